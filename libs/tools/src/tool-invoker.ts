import { Logger } from '@nestjs/common';
import { describeTextProblem, findUnstorableText, isDatabaseUnavailable } from '@app/database';
import { checkArgumentShape } from './argument-limits';
import { InputRequired } from './input';
import { ToolContext, ToolInputError } from './tool-context';
import type { ToolDefinition } from './tool-registry';

const logger = new Logger('ToolInvoker');

/** A `tools/call` result as plain JSON, the same in every protocol era and SDK. */
export interface ToolCallResult {
  [key: string]: unknown;
  content: ({ type: 'text'; text: string } | Record<string, unknown>)[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

export function toolError(text: string): ToolCallResult {
  return { isError: true, content: [{ type: 'text', text }] };
}

/**
 * A tool's answer given as MCP content blocks (images, audio, embedded resources, several
 * blocks), for tools whose result is not one JSON value or one text; `extra` carries what a tool
 * that relays another server's answer passes on (its structuredContent, its isError).
 */
export class ToolContent {
  constructor(
    readonly content: ToolCallResult['content'],
    readonly extra: Pick<ToolCallResult, 'structuredContent' | 'isError'> = {},
  ) {}
}

export const toolContent = (...content: ToolCallResult['content']) => new ToolContent(content);

function toResult(tool: ToolDefinition, out: unknown): ToolCallResult {
  if (out === undefined || out === null) return { content: [] };
  if (out instanceof ToolContent) {
    const { structuredContent, isError } = out.extra;
    return {
      content: out.content,
      ...(structuredContent !== undefined ? { structuredContent } : {}),
      ...(isError ? { isError: true } : {}),
    };
  }
  if (typeof out === 'string') return { content: [{ type: 'text', text: out }] };
  const text = JSON.stringify(out);
  if (tool.structured) {
    return { content: [{ type: 'text', text }], structuredContent: out as Record<string, unknown> };
  }
  return { content: [{ type: 'text', text }] };
}

/**
 * Validates arguments and runs a tool. The caller's mistakes and the tool's failures both come
 * back as tool errors (`isError: true`) the model can read, never as protocol errors; a tool that
 * needs the client's input first answers `InputRequired`, which each era fulfils its own way.
 */
export async function invokeTool(
  tool: ToolDefinition,
  args: unknown,
  ctx: ToolContext,
): Promise<ToolCallResult | InputRequired> {
  // The caps first, so nothing walks deeper or longer than the tool allows (findUnstorableText and
  // zod would). Over-cap arguments are the caller's mistake like any invalid argument, and the MCP
  // specification has invalid arguments reported as tool errors the model can read and correct,
  // not as protocol errors; so they come back the same way as a failed schema check.
  const tooBig = checkArgumentShape(args, tool.limits);
  if (tooBig) return toolError(`invalid arguments for ${tool.name}: ${tooBig}`);
  const problem = findUnstorableText(args);
  if (problem)
    return toolError(`invalid arguments for ${tool.name}: ${describeTextProblem(problem)}`);
  const parsed = tool.parse(args ?? {});
  if (!parsed.success) return toolError(`invalid arguments for ${tool.name}: ${parsed.problem}`);
  try {
    const out = await tool.handler(parsed.data, ctx);
    return out instanceof InputRequired ? out : toResult(tool, out);
  } catch (err) {
    if (err instanceof ToolInputError) return toolError(err.message);
    if (ctx.signal.aborted) return toolError(`${tool.name} was cancelled`);
    if (isDatabaseUnavailable(err)) {
      return toolError(`${tool.name} failed: the database is unavailable; retry in a few seconds`);
    }
    logger.error(
      { err, tool: tool.name, tenant: ctx.tenant.slug },
      `tool ${tool.name} failed: ${(err as Error)?.message}`,
    );
    // Plain errors are thrown on purpose by tool code and say what went wrong; anything else
    // (database, type errors) may carry internals, so the caller gets a generic message.
    const message =
      err instanceof Error && err.constructor === Error
        ? err.message
        : 'an internal error occurred';
    return toolError(`${tool.name} failed: ${message}`);
  }
}
