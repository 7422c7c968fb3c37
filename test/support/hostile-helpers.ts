import { request as httpRequest } from 'node:http';
import { ADMIN, TestPlatform } from './platform';
import { TestIdp } from './idp';
import { createTenant } from './mcp';
import { initializeRequest, RawResponse, rawPost } from './mcp-raw';

/**
 * Environment for the hostile suites: they send hundreds of bad credentials from one loopback
 * address on purpose, which the per-address failed-authentication limit would otherwise turn into
 * 429s part-way through. Everything else keeps its default.
 */
export const HOSTILE_ENV: Record<string, string> = {
  AUTH_FAILURES_PER_MINUTE: '0',
  ADMIN_AUTH_FAILURES_PER_MINUTE: '0',
};

/** The error shape every non-MCP error response has: `{statusCode, error, message}`. */
export function expectErrorBody(status: number, body: unknown, what = ''): void {
  const context = `${what} answered ${status} with ${JSON.stringify(body)?.slice(0, 300)}`;
  if (typeof body !== 'object' || body === null) throw new Error(`not a JSON object: ${context}`);
  const b = body as Record<string, unknown>;
  if (b.statusCode !== status) throw new Error(`statusCode is not ${status}: ${context}`);
  if (typeof b.error !== 'string' || !b.error) throw new Error(`no error string: ${context}`);
  if (typeof b.message !== 'string' || !b.message) throw new Error(`no message string: ${context}`);
}

/** The RFC 9728 metadata URL a tenant's 401 challenge must point at. */
export const metadataUrlFor = (p: TestPlatform, slug: string) =>
  `${p.config.publicUrl}/.well-known/oauth-protected-resource/t/${slug}/mcp`;

/** True when `status` is a client error: the request was refused, not crashed on. */
export const isClientError = (status: number) => status >= 400 && status < 500;

/**
 * One HTTP request with the path sent exactly as given (no URL normalisation by the client, so
 * `..`, `%00` and friends reach the server as written).
 */
export function rawHttp(
  p: TestPlatform,
  init: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: p.config.port,
        method: init.method ?? 'GET',
        path: init.path,
        headers: {
          ...(init.body !== undefined
            ? { 'Content-Length': String(Buffer.byteLength(init.body)) }
            : {}),
          ...init.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}

/**
 * Runs `fn` with `Date.now()` moved `ms` into the future, for everything in this process: the
 * application (JWKS cache ages, token expiry checks) and the test IdP's signer alike.
 */
export async function withClockAhead<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const realNow = Date.now.bind(Date);
  const spy = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + ms);
  try {
    return await fn();
  } finally {
    spy.mockRestore();
  }
}

/** A fresh tenant whose JWT identity provider is `idp` (plus any extra settings). */
export async function tenantWithIdp(
  p: TestPlatform,
  idp: Pick<TestIdp, 'issuer' | 'jwksUri'>,
  extra: Record<string, unknown> = {},
  prefix = 'jwt',
): Promise<{ slug: string; id: string; aud: string }> {
  const t = await createTenant(p, prefix);
  const res = await p
    .http()
    .put(`/admin/tenants/${t.slug}/auth`)
    .set(ADMIN)
    .send({ jwt: { issuer: idp.issuer, jwksUri: idp.jwksUri, ...extra } });
  if (res.status !== 200) throw new Error(`PUT auth answered ${res.status}: ${res.text}`);
  return { ...t, aud: `${p.config.publicUrl}/t/${t.slug}/mcp` };
}

/** An `initialize` POST to the tenant's MCP endpoint with `Authorization: Bearer <token>`. */
export function initWithToken(p: TestPlatform, slug: string, token: string): Promise<RawResponse> {
  return rawPost(p, slug, initializeRequest(), { Authorization: `Bearer ${token}` });
}

/**
 * The refusal of a bearer credential on a tenant's MCP endpoint: 401, a JSON error saying why,
 * the RFC 9728 challenge of that tenant, and no session.
 */
export function expectBearerRefused(
  p: TestPlatform,
  slug: string,
  res: RawResponse,
  reason: RegExp,
): void {
  if (res.status !== 401) {
    throw new Error(`expected 401 but got ${res.status}: ${res.text.slice(0, 300)}`);
  }
  expectErrorBody(401, res.json, 'POST /mcp');
  expect((res.json as { error: string }).error).toBe('Unauthorized');
  expect((res.json as { message: string }).message).toMatch(reason);
  expect(res.headers.get('www-authenticate')).toContain(
    `resource_metadata="${metadataUrlFor(p, slug)}"`,
  );
  expect(res.headers.get('mcp-session-id')).toBeNull();
}

/** An initialize that was let in: 200 and a session id. */
export function expectAccepted(res: RawResponse): void {
  if (res.status !== 200) {
    throw new Error(`expected 200 but got ${res.status}: ${res.text.slice(0, 300)}`);
  }
  expect(res.headers.get('mcp-session-id')).toBeTruthy();
  expect(res.messages[0]?.result?.serverInfo).toBeDefined();
}
