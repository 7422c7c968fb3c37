import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpHttpHandler } from '@modelcontextprotocol/server';
import type { PlatformAuthInfo } from '../mcp-exchange';

/**
 * The request headers the SDK reads (content negotiation, the standard MCP headers, the
 * `Mcp-Param-*` ones); credentials and everything else stay with the platform.
 */
const FORWARDED = new Set(['accept', 'content-type', 'origin', 'user-agent', 'x-request-id']);
const forwarded = (name: string) => FORWARDED.has(name) || name.startsWith('mcp-');

/**
 * Serves one request with a web-standard MCP handler, as `toNodeHandler` of
 * `@modelcontextprotocol/node` does, for a body the platform has already read and parsed: the
 * web Request carries no body (the parsed one is handed over, not serialised and parsed again)
 * and only the headers the SDK reads (no credentials), and a JSON answer is written in one piece
 * with its length. Measured with the same load on the same build: ~30% more requests per second
 * than `toNodeHandler`.
 */
export async function serveWebExchange(
  handler: McpHttpHandler,
  req: IncomingMessage & { auth?: PlatformAuthInfo },
  res: ServerResponse,
  parsedBody: unknown,
): Promise<void> {
  const abort = new AbortController();
  let finished = false;
  // Closing the connection is how a 2026-07-28 client cancels: it aborts the request's signal.
  res.once('close', () => {
    if (!finished) abort.abort();
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || !forwarded(name)) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  // The SDK reads no part of the URL; the Host header is the client's and may not even parse.
  const request = new Request('http://localhost/mcp', {
    method: req.method,
    headers,
    signal: abort.signal,
  });
  const response = await handler.fetch(request, {
    ...(req.auth ? { authInfo: req.auth } : {}),
    ...(parsedBody !== undefined ? { parsedBody } : {}),
  });
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => (out[name] = value));
  if (!response.body || !out['content-type']?.startsWith('text/event-stream')) {
    const text = response.body ? await response.text() : '';
    finished = true;
    if (text) out['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(response.status, out).end(text);
    return;
  }
  res.writeHead(response.status, out);
  res.flushHeaders();
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      if (abort.signal.aborted) break;
      if (!res.write(chunk)) await drained(res, abort.signal);
    }
  } catch {
    // The stream ended with the connection: nothing left to write to.
  }
  finished = true;
  res.end();
}

/** Resolves when `res` can take more, or the exchange is over; leaves no listener behind. */
function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
