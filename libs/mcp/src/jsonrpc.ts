import type { Response } from 'express';

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
