import type { Request } from 'express';

const QUERY_CREDENTIALS = ['api_key', 'apikey', 'api-key', 'key', 'token', 'access_token', 'auth'];

/** True when a credential-like parameter was put in the URL, where proxies and logs keep it. */
export function hasQueryCredential(req: Request): boolean {
  const q = req.query as Record<string, unknown>;
  return QUERY_CREDENTIALS.some((name) => q[name] !== undefined);
}

/**
 * The token of `Authorization: Bearer <token>`: undefined without an Authorization header, '' when
 * the header is there but not of that form.
 */
export function bearerToken(req: Request): string | undefined {
  const authorization = req.headers.authorization;
  if (authorization === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] ?? '';
}

/** The value of a non-empty `X-API-Key` header. */
export function apiKeyHeader(req: Request): string | undefined {
  const value = req.headers['x-api-key'];
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}
