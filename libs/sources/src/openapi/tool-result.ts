import { STATUS_CODES } from 'node:http';
import { isRecord } from './document';
import { OPENAPI_LIMITS } from './limits';
import { isJsonMediaType } from './media-types';

export interface ToolCallResultLike {
  content: { type: 'text'; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/**
 * The upstream's answer as a tool result: the body as text always; a JSON body also as
 * structuredContent (an object as is, anything else as `{ result }`); a non-2xx status as an error
 * naming the status, so the model sees what the API said.
 */
export function toToolResult(
  status: number,
  statusText: string,
  contentType: string | null,
  body: string,
): ToolCallResultLike {
  const reason = statusText.trim() || STATUS_CODES[status] || '';
  const statusLine = `${status}${reason ? ` ${reason}` : ''}`;
  if (status < 200 || status > 299) {
    const excerpt = body.trim();
    const cut =
      excerpt.length > OPENAPI_LIMITS.maxErrorExcerpt
        ? `${excerpt.slice(0, OPENAPI_LIMITS.maxErrorExcerpt)}…`
        : excerpt;
    return {
      content: [{ type: 'text', text: cut ? `${statusLine}: ${cut}` : statusLine }],
      isError: true,
    };
  }
  if (!body.trim()) return { content: [{ type: 'text', text: statusLine }] };
  const result: ToolCallResultLike = { content: [{ type: 'text', text: body }] };
  if (isJsonMediaType(contentType)) {
    try {
      const parsed = JSON.parse(body) as unknown;
      result.structuredContent = isRecord(parsed) ? parsed : { result: parsed };
    } catch {
      // Labelled JSON but is not: the text alone is still the answer.
    }
  }
  return result;
}
