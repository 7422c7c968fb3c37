import { connect } from 'node:net';
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

// ---------------------------------------------------------------------------------------------
// Authenticators that ask another service (introspection, a tenant's auth service)

/** `PUT /admin/tenants/:slug/auth` with `body` as the platform admin, whatever the answer. */
export function putTenantAuth(
  p: RunningPlatform,
  slug: string,
  body: Record<string, unknown>,
): Promise<RawResponse> {
  return p.admin.request('PUT', `/admin/tenants/${slug}/auth`, body);
}

/** A fresh tenant with these auth settings (fails unless the PUT is answered 200). */
export async function tenantWithAuth(
  p: RunningPlatform,
  auth: Record<string, unknown>,
  prefix = 'auth',
): Promise<{ slug: string; id: string; aud: string }> {
  const { slug, id } = await p.admin.createTenant(prefix);
  const res = await putTenantAuth(p, slug, auth);
  if (res.status !== 200) {
    throw new Error(`PUT /admin/tenants/${slug}/auth answered ${res.status}: ${res.text}`);
  }
  return { slug, id, aud: `${p.config.publicUrl}/t/${slug}/mcp` };
}

/**
 * The answer when the service that checks a credential cannot answer: 503 with a Retry-After of
 * whole seconds and the error body, no session, and no acceptance.
 */
export function expectAuthUnavailable(res: RawResponse, what = 'POST /mcp'): void {
  if (res.status !== 503) {
    throw new Error(`${what}: expected 503 but got ${res.status}: ${res.text.slice(0, 300)}`);
  }
  expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  expectErrorBody(503, res.json, what);
  expect(res.headers.get('mcp-session-id')).toBeNull();
}

/**
 * One HTTP/1.1 request written to a socket byte for byte (Node's client refuses header values
 * with CR, LF or NUL, or beyond latin-1); a string `head` is sent as UTF-8. `head` should ask
 * for `Connection: close`: the answer is read until the server closes, or shortly after a first
 * complete answer with a Content-Length. Resolves with the status line's code (0 when the server
 * closed the connection without answering) and the raw answer.
 */
export function rawSocketRequest(
  base: string,
  head: string | Buffer,
  body = '',
  timeoutMs = 15_000,
): Promise<{ status: number; text: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    let grace: NodeJS.Timeout | undefined;
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // A server may keep the connection despite `Connection: close` (an event stream sets
      // keep-alive itself): once one whole answer is in, anything else gets a moment to arrive
      // (a smuggled second answer would), then the connection is closed from here.
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)\r\n/i.exec(
        `${all.subarray(0, end).toString('latin1')}\r\n`,
      );
      if (end >= 0 && length && all.length >= end + 4 + Number(length[1])) {
        clearTimeout(grace);
        grace = setTimeout(() => socket.destroy(), 200);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(grace);
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, text });
    });
    socket.write(
      Buffer.concat([typeof head === 'string' ? Buffer.from(head) : head, Buffer.from(body)]),
    );
  });
}
