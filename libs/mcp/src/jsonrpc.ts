import type { Request, Response } from 'express';

/** A JSON-RPC error sent as the HTTP response, for refusals made before the SDK transport. */
export function sendJsonRpcError(
  res: Response,
  status: number,
  code: number,
  message: string,
): void {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

export const JSONRPC_PARSE_ERROR = -32700;
export const JSONRPC_INVALID_REQUEST = -32600;
export const JSONRPC_SESSION_NOT_FOUND = -32001;

interface ToolsCall {
  method: 'tools/call';
  params: { name: string };
}

export function isToolsCall(body: unknown): body is ToolsCall {
  const b = body as { method?: unknown; params?: { name?: unknown } } | null;
  return !!b && b.method === 'tools/call' && typeof b.params?.name === 'string';
}

/** A JSON body the body parser already read (other content types are left to the SDK transport). */
export function isJsonBody(req: Request): boolean {
  return req.body !== undefined && !!req.is('application/json');
}

const DIRECT_METHODS = new Set(['tools/call', 'tools/list', 'ping']);

/**
 * A request that needs nothing of its session but the answer: no progress token (progress streams
 * over SSE), not initialize. Such requests can be served by the shared server as plain JSON.
 */
export function isPlainRequest(body: unknown): boolean {
  const b = body as {
    id?: unknown;
    method?: unknown;
    params?: { _meta?: { progressToken?: unknown } };
  } | null;
  return (
    !!b &&
    b.id !== undefined &&
    typeof b.method === 'string' &&
    DIRECT_METHODS.has(b.method) &&
    b.params?._meta?.progressToken === undefined
  );
}
