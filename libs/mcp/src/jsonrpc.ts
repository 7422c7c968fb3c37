import type { ServerResponse } from 'node:http';
import type { JSONRPCNotification } from '@modelcontextprotocol/sdk/types.js';
import type { Request } from 'express';

/**
 * Writes a JSON response with Node's own response API: Express's `res.json` also computes an ETag
 * and parses the content type on every call, which shows in the hot path's profile.
 */
export function writeJson(res: ServerResponse, status: number, json: string): void {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
  });
  res.end(json);
}

/** A JSON-RPC error sent as the HTTP response, for refusals made before the SDK transport. */
export function sendJsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  id: unknown = null,
  data?: unknown,
): void {
  const error = data === undefined ? { code, message } : { code, message, data };
  writeJson(res, status, JSON.stringify({ jsonrpc: '2.0', error, id }));
}

const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);

/**
 * True for the everyday shape of a JSON-RPC request (`jsonrpc`, an integer or string id, a method,
 * params an object without `_meta`, no other member), which the SDK's own schema accepts as is;
 * anything else is left to that schema to judge.
 */
export function isSimpleRequest(body: unknown): boolean {
  const b = body as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown } | null;
  if (!b || typeof b !== 'object' || b.jsonrpc !== '2.0' || typeof b.method !== 'string') {
    return false;
  }
  for (const key in b) if (!REQUEST_KEYS.has(key)) return false;
  const idOk = typeof b.id === 'string' || (typeof b.id === 'number' && Number.isSafeInteger(b.id));
  const params = b.params as Record<string, unknown> | undefined;
  const paramsOk =
    params === undefined ||
    (typeof params === 'object' &&
      params !== null &&
      !Array.isArray(params) &&
      !('_meta' in params));
  return idOk && paramsOk;
}

export const JSONRPC_PARSE_ERROR = -32700;
export const JSONRPC_INVALID_REQUEST = -32600;
export const JSONRPC_SESSION_NOT_FOUND = -32001;

/** A JSON body the body parser already read (other content types are left to the SDK transport). */
export function isJsonBody(req: Request): boolean {
  return req.body !== undefined && !!req.is('application/json');
}

export function isNotification(body: unknown): boolean {
  const b = body as { id?: unknown; method?: unknown } | null;
  return !!b && typeof b === 'object' && b.id === undefined && typeof b.method === 'string';
}

export function isCancellation(body: unknown): body is JSONRPCNotification {
  const b = body as { id?: unknown; method?: unknown } | null;
  return !!b && b.id === undefined && b.method === 'notifications/cancelled';
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
