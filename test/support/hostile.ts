import type { RawResponse } from './http';
import type { TestIdp } from './idp';
import { bearer, initializeRequest, rawPost, resourceMetadataUrl } from './mcp';
import type { RunningPlatform } from './platform';

/** The error shape every non-MCP error response has: `{statusCode, error, message}`. */
export function expectErrorBody(status: number, body: unknown, what = ''): void {
  const context = `${what} answered ${status} with ${JSON.stringify(body)?.slice(0, 300)}`;
  if (typeof body !== 'object' || body === null) throw new Error(`not a JSON object: ${context}`);
  const b = body as Record<string, unknown>;
  if (b.statusCode !== status) throw new Error(`statusCode is not ${status}: ${context}`);
  if (typeof b.error !== 'string' || !b.error) throw new Error(`no error string: ${context}`);
  if (typeof b.message !== 'string' || !b.message) throw new Error(`no message string: ${context}`);
}

/** True when `status` is a client error: the request was refused, not crashed on. */
export const isClientError = (status: number) => status >= 400 && status < 500;

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
  p: RunningPlatform,
  idp: Pick<TestIdp, 'issuer' | 'jwksUri'>,
  extra: Record<string, unknown> = {},
  prefix = 'jwt',
): Promise<{ slug: string; id: string; aud: string }> {
  const { slug, id } = await p.admin.createTenant(prefix);
  await p.admin.setJwt(slug, { issuer: idp.issuer, jwksUri: idp.jwksUri, ...extra });
  return { slug, id, aud: `${p.config.publicUrl}/t/${slug}/mcp` };
}

/** An `initialize` POST to the tenant's MCP endpoint with `Authorization: Bearer <token>`. */
export function initWithToken(
  p: RunningPlatform,
  slug: string,
  token: string,
): Promise<RawResponse> {
  return rawPost(p, slug, initializeRequest(), bearer(token));
}

/**
 * The refusal of a bearer credential on a tenant's MCP endpoint: 401, a JSON error saying why,
 * the RFC 9728 challenge of that tenant, and no session.
 */
export function expectBearerRefused(
  p: RunningPlatform,
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
    `resource_metadata="${resourceMetadataUrl(p, slug)}"`,
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
