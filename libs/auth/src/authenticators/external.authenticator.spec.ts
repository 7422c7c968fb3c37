import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import type { Request } from 'express';
import { loadConfig } from '@app/config';
import { EgressPolicy } from '@app/egress';
import type { Tenant, TenantExternalAuthSettings } from '@app/tenancy';
import { AuthUnavailable, CredentialRefused } from '../refusal';
import type { AuthAttempt } from './authenticator';
import { EXTERNAL_RESERVED_HEADERS, ExternalAuthenticator } from './external.authenticator';

interface Seen {
  headers: IncomingMessage['headers'];
  body: string;
}

interface TestServer {
  readonly url: string;
  readonly seen: Seen[];
}

type Handler = (res: ServerResponse, seen: Seen) => void;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function listen(handler: Handler): Promise<{ server: Server; state: TestServer }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const one = { headers: req.headers, body: Buffer.concat(chunks).toString() };
      seen.push(one);
      handler(res, one);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, state: { url: `http://127.0.0.1:${port}/check`, seen } };
}

async function serve(handler: Handler): Promise<TestServer> {
  const { server, state } = await listen(handler);
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return state;
}

/** A port that was just closed: connecting to it is refused. */
async function closedPort(): Promise<string> {
  const { server, state } = await listen(() => undefined);
  await new Promise((resolve) => server.close(resolve));
  return state.url;
}

const json =
  (body: unknown, status = 200, delayMs = 0): Handler =>
  (res) => {
    setTimeout(() => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    }, delayMs);
  };

const ALICE = { subject: 'alice', scopes: ['notes:read', 'math:use'] };
const SECRET = 'tok-very-secret-value';

function tenantWith(external: TenantExternalAuthSettings | undefined, id = 'tenant-1'): Tenant {
  return {
    id,
    slug: 'acme',
    status: 'active',
    settings: { auth: external ? { external } : {} },
  } as unknown as Tenant;
}

function attempt(
  headers: Record<string, string | string[]>,
  tenant: Tenant | undefined,
): AuthAttempt {
  return {
    req: { headers } as unknown as Request,
    bearer: undefined,
    tenant: () => Promise.resolve(tenant),
  };
}

describe(ExternalAuthenticator.name, () => {
  let egress: EgressPolicy;
  let sut: ExternalAuthenticator;
  let start: number;

  beforeAll(() => {
    egress = new EgressPolicy(loadConfig({ EGRESS_ALLOW: '127.0.0.0/8' }));
  });
  afterAll(() => egress.onApplicationShutdown());
  beforeEach(() => {
    sut = new ExternalAuthenticator(egress);
    start = Date.now();
  });

  const settings = (
    url: string,
    more: Partial<TenantExternalAuthSettings> = {},
  ): TenantExternalAuthSettings => ({ url, headers: ['x-tenant-token'], ...more });
  const call = (url: string, more?: Partial<TenantExternalAuthSettings>, value = SECRET) =>
    sut.authenticate(attempt({ 'x-tenant-token': value }, tenantWith(settings(url, more))));
  const cache = () => sut['answers']['kept'];
  /** Date.now this long after the test began (lru-cache's own clock, performance.now, stays real). */
  const later = (ms: number) => jest.spyOn(Date, 'now').mockReturnValue(start + ms);

  describe('accepts', () => {
    const configured = tenantWith(settings('http://127.0.0.1:1/', { headers: ['x-a', 'x-b'] }));

    it('takes a request carrying any of the configured headers', async () => {
      expect(await sut.accepts(attempt({ 'x-a': 'v' }, configured))).toBe(true);
      expect(await sut.accepts(attempt({ 'x-b': '' }, configured))).toBe(true);
    });

    it('leaves requests without them, and tenants without an auth service', async () => {
      expect(await sut.accepts(attempt({ 'x-c': 'v' }, configured))).toBe(false);
      expect(await sut.accepts(attempt({ 'x-a': 'v' }, tenantWith(undefined)))).toBe(false);
      expect(await sut.accepts(attempt({ 'x-a': 'v' }, undefined))).toBe(false);
    });
  });

  describe('authenticate', () => {
    it('posts the header values as JSON and builds the principal from the answer', async () => {
      const service = await serve(json(ALICE));
      const tenant = tenantWith(settings(service.url, { headers: ['x-a', 'x-b'] }));

      const principal = await sut.authenticate(attempt({ 'x-a': 'one', 'x-b': 'two' }, tenant));

      expect(principal).toEqual({
        kind: 'external',
        id: 'external:alice',
        tenantId: 'tenant-1',
        scopes: ['notes:read', 'math:use'],
        tools: null,
        resources: null,
        prompts: null,
      });
      expect(service.seen).toHaveLength(1);
      expect(JSON.parse(service.seen[0].body)).toEqual({ headers: { 'x-a': 'one', 'x-b': 'two' } });
      expect(service.seen[0].headers['content-type']).toBe('application/json');
      expect(service.seen[0].headers.accept).toBe('application/json');
    });

    it('sets expiresAt from expiresIn', async () => {
      const service = await serve(json({ ...ALICE, expiresIn: 120 }));
      const now = Date.now();
      jest.spyOn(Date, 'now').mockReturnValue(now);

      expect((await call(service.url)).expiresAt).toBe(now + 120_000);
    });

    it('refuses a request missing some of the headers, naming them all', async () => {
      const service = await serve(json(ALICE));
      const tenant = tenantWith(settings(service.url, { headers: ['x-a', 'x-b'] }));

      const missing = sut.authenticate(attempt({ 'x-a': 'one' }, tenant));
      await expect(missing).rejects.toThrow(CredentialRefused);
      await expect(missing).rejects.toMatchObject({
        reason: 'malformed',
        message: 'this tenant’s auth service needs the headers x-a, x-b (all of them)',
      });
      await expect(
        sut.authenticate(attempt({ 'x-a': 'one', 'x-b': '' }, tenant)),
      ).rejects.toMatchObject({ reason: 'malformed' });
      await expect(call(service.url, {}, '')).rejects.toMatchObject({
        reason: 'malformed',
        message: 'this tenant’s auth service needs the header x-tenant-token',
      });
      expect(service.seen).toHaveLength(0);
    });

    it('refuses a header value longer than 4096 characters', async () => {
      const service = await serve(json(ALICE));

      await expect(call(service.url, {}, 'x'.repeat(4097))).rejects.toMatchObject({
        reason: 'malformed',
        message: expect.stringContaining('x-tenant-token') as string,
      });
      await expect(call(service.url, {}, 'x'.repeat(4096))).resolves.toBeDefined();
      expect(service.seen).toHaveLength(1);
    });

    it('joins a repeated header as Node does', async () => {
      const service = await serve(json(ALICE));
      const tenant = tenantWith(settings(service.url));

      await sut.authenticate(attempt({ 'x-tenant-token': ['a', 'b'] }, tenant));

      expect(JSON.parse(service.seen[0].body)).toEqual({ headers: { 'x-tenant-token': 'a, b' } });
    });

    it('refuses on a tenant without an auth service', async () => {
      await expect(
        sut.authenticate(attempt({ 'x-tenant-token': SECRET }, tenantWith(undefined))),
      ).rejects.toMatchObject({ reason: 'no_identity_provider' });
    });
  });

  describe('cache', () => {
    it('answers the same credentials from the cache, other ones from the service', async () => {
      const service = await serve(json(ALICE));

      const first = await call(service.url);
      const second = await call(service.url);
      await call(service.url, {}, 'another-value');

      expect(second).toEqual(first);
      expect(second).not.toBe(first);
      expect(service.seen).toHaveLength(2);
    });

    it('keeps each tenant’s answers apart', async () => {
      const service = await serve(json(ALICE));
      const headers = { 'x-tenant-token': SECRET };

      await sut.authenticate(attempt(headers, tenantWith(settings(service.url), 'tenant-1')));
      const other = await sut.authenticate(
        attempt(headers, tenantWith(settings(service.url), 'tenant-2')),
      );

      expect(other.tenantId).toBe('tenant-2');
      expect(service.seen).toHaveLength(2);
    });

    it('does not let values run together into one key', async () => {
      const service = await serve(json(ALICE));
      const tenant = tenantWith(settings(service.url, { headers: ['x-a', 'x-b'] }));

      await sut.authenticate(attempt({ 'x-a': 'ab', 'x-b': 'c' }, tenant));
      await sut.authenticate(attempt({ 'x-a': 'a', 'x-b': 'bc' }, tenant));

      expect(service.seen).toHaveLength(2);
    });

    it('keys entries by a 64-hex HMAC and stores no header value', async () => {
      const service = await serve(json(ALICE));

      await call(service.url);

      const keys = [...cache().keys()];
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify([...cache().entries()])).not.toContain(SECRET);
    });

    it('keeps an answer for cacheSeconds (60 by default)', async () => {
      const service = await serve(json(ALICE));

      await call(service.url);
      later(59_000);
      await call(service.url);
      expect(service.seen).toHaveLength(1);
      later(61_000);
      await call(service.url);
      expect(service.seen).toHaveLength(2);
    });

    it('honours a configured cacheSeconds, and 0 turns the cache off', async () => {
      const service = await serve(json(ALICE));

      await call(service.url, { cacheSeconds: 10 });
      later(11_000);
      await call(service.url, { cacheSeconds: 10 });
      expect(service.seen).toHaveLength(2);

      jest.restoreAllMocks();
      await call(service.url, { cacheSeconds: 0 }, 'v2');
      await call(service.url, { cacheSeconds: 0 }, 'v2');
      expect(service.seen).toHaveLength(4);
    });

    it('keeps an answer no longer than its expiresIn', async () => {
      const service = await serve(json({ ...ALICE, expiresIn: 5 }));

      await call(service.url);
      later(4_000);
      await call(service.url);
      expect(service.seen).toHaveLength(1);
      later(6_000);
      const again = await call(service.url);
      expect(service.seen).toHaveLength(2);
      expect(again.expiresAt).toBe(Date.now() + 5_000);
    });

    it('lets the entry go from the LRU itself at the end of its ttl', async () => {
      const service = await serve(json({ ...ALICE, expiresIn: 0.3 }));

      await call(service.url);
      const [key] = [...cache().keys()];
      expect(cache().getRemainingTTL(key)).toBeLessThanOrEqual(300);
      expect(cache().getRemainingTTL(key)).toBeGreaterThan(0);
    });

    it.each([0, -5])(
      'does not cache an answer with expiresIn %d, nor give it an expiry',
      async (expiresIn) => {
        const service = await serve(json({ ...ALICE, expiresIn }));

        const principal = await call(service.url);
        await call(service.url);

        expect(principal.expiresAt).toBeUndefined();
        expect(service.seen).toHaveLength(2);
        expect(cache().size).toBe(0);
      },
    );

    it('does not cache refusals', async () => {
      let status = 401;
      const service = await serve((res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(ALICE));
      });

      await expect(call(service.url)).rejects.toMatchObject({ reason: 'external_rejected' });
      status = 200;
      await expect(call(service.url)).resolves.toMatchObject({ id: 'external:alice' });
      expect(service.seen).toHaveLength(2);
    });

    it('makes one call for identical checks in flight at once', async () => {
      const service = await serve(json(ALICE, 200, 100));

      const principals = await Promise.all(Array.from({ length: 5 }, () => call(service.url)));

      expect(service.seen).toHaveLength(1);
      expect(new Set(principals.map((p) => p.id))).toEqual(new Set(['external:alice']));
    });

    it('shares a failure among the checks in flight, and does not keep it', async () => {
      const service = await serve(json('nope', 500, 100));
      jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);

      const results = await Promise.allSettled([call(service.url), call(service.url)]);

      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(service.seen).toHaveLength(1);
      await expect(call(service.url)).rejects.toThrow(AuthUnavailable);
      expect(service.seen).toHaveLength(2);
    });
  });

  describe('answers', () => {
    it.each([401, 403])('refuses the credentials on %d', async (status) => {
      const service = await serve(json({ error: 'no' }, status));

      await expect(call(service.url)).rejects.toMatchObject({
        reason: 'external_rejected',
        message: 'the tenant’s auth service refused these credentials',
      });
    });

    const unavailable = async (
      url: string,
      reason: RegExp,
      more?: Partial<TenantExternalAuthSettings>,
    ) => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const err = (await call(url, more).catch((e: unknown) => e)) as AuthUnavailable;

      expect(err).toBeInstanceOf(AuthUnavailable);
      expect(err.getStatus()).toBe(503);
      expect(err.retryAfterSeconds).toBe(5);
      expect(err.message).toMatch(
        /^the tenant’s auth service is unavailable \(.+\); try again shortly$/,
      );
      expect(err.message).toMatch(reason);
      expect(err.message).not.toContain(SECRET);
      expect(warn).toHaveBeenCalledTimes(1);
      const logged = String(warn.mock.calls[0][0]);
      expect(logged).toMatch(reason);
      expect(logged).not.toContain(SECRET);
      expect(logged).not.toContain('q-secret');
      expect(cache().size).toBe(0);
      return logged;
    };

    it('is unavailable on any other status', async () => {
      const service = await serve(json(ALICE, 500));
      await unavailable(`${service.url}?key=q-secret`, /HTTP 500/);
    });

    it('is unavailable on a redirect, which it does not follow', async () => {
      const target = await serve(json(ALICE));
      const service = await serve((res) => {
        res.writeHead(302, { location: target.url });
        res.end();
      });

      await unavailable(service.url, /redirect \(HTTP 302\)/);
      expect(target.seen).toHaveLength(0);
    });

    it.each([
      ['not JSON', 'not json {'],
      ['no subject', { scopes: [] }],
      ['an empty subject', { subject: '', scopes: [] }],
      ['a subject over 256 characters', { subject: 'x'.repeat(257), scopes: [] }],
      ['no scopes', { subject: 'alice' }],
      [
        'over 100 scopes',
        { subject: 'alice', scopes: Array.from({ length: 101 }, (_, i) => `s${i}`) },
      ],
      ['a scope over 200 characters', { subject: 'alice', scopes: ['x'.repeat(201)] }],
      ['a non-number expiresIn', { ...ALICE, expiresIn: '60' }],
      ['an array', [ALICE]],
    ])('is unavailable on an answer with %s', async (_what, body) => {
      const service = await serve(json(body));
      await unavailable(service.url, /its answer is not/);
    });

    it('accepts the limits themselves', async () => {
      const scopes = Array.from({ length: 100 }, () => 'x'.repeat(200));
      const service = await serve(json({ subject: 's'.repeat(256), scopes }));

      await expect(call(service.url)).resolves.toMatchObject({ scopes });
    });

    it('is unavailable on an answer over 64 KiB', async () => {
      const service = await serve(json({ ...ALICE, pad: 'x'.repeat(70_000) }));
      await unavailable(service.url, /exceeds 65536 bytes/);
    });

    it('is unavailable when the service is down', async () => {
      const logged = await unavailable(await closedPort(), /could not be reached/);
      expect(logged).toContain('ECONNREFUSED');
    });

    it('is unavailable when the service does not answer within timeoutMs', async () => {
      const service = await serve(() => undefined);
      await unavailable(service.url, /no answer within 200 ms/, { timeoutMs: 200 });
      expect(service.seen).toHaveLength(1);
    });

    it('is unavailable when the egress policy refuses the address', async () => {
      await unavailable('http://10.0.0.1/check', /not allowed by the egress policy/);
    });
  });

  it('lists the headers a tenant may not configure, in lower case', () => {
    expect(EXTERNAL_RESERVED_HEADERS).toEqual(
      expect.arrayContaining([
        'authorization',
        'x-api-key',
        'cookie',
        'mcp-session-id',
        'forwarded',
      ]),
    );
    expect(EXTERNAL_RESERVED_HEADERS).toHaveLength(17);
    for (const name of EXTERNAL_RESERVED_HEADERS) expect(name).toBe(name.toLowerCase());
  });
});
