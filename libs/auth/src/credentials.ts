import type { Request } from 'express';
import { looksLikeApiKey } from '@app/tenancy';

export type CredentialKind = 'api-key' | 'jwt' | 'admin-token';

export interface Credential {
  kind: CredentialKind;
  value: string;
}

const QUERY_CREDENTIALS = ['api_key', 'apikey', 'api-key', 'key', 'token', 'access_token', 'auth'];
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/** True when a credential-like parameter was put in the URL, where proxies and logs keep it. */
export function hasQueryCredential(req: Request): boolean {
  const q = req.query as Record<string, unknown>;
  return QUERY_CREDENTIALS.some((name) => q[name] !== undefined);
}

/** The presented credential and which strategy verifies it, decided from its shape alone. */
export function extractCredential(req: Request): Credential | null {
  const apiKeyHeader = req.headers['x-api-key'];
  if (typeof apiKeyHeader === 'string' && apiKeyHeader.trim()) {
    return { kind: 'api-key', value: apiKeyHeader.trim() };
  }
  const authorization = req.headers.authorization;
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match?.[1]) return { kind: 'admin-token', value: '' };
  const token = match[1];
  if (looksLikeApiKey(token)) return { kind: 'api-key', value: token };
  if (JWT_SHAPE.test(token)) return { kind: 'jwt', value: token };
  return { kind: 'admin-token', value: token };
}
