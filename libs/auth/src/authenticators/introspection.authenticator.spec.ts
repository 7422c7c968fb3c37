import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import type { Request } from 'express';
import type { Repository } from 'typeorm';
import { loadConfig } from '@app/config';
import { EgressPolicy } from '@app/egress';
import {
  PlatformSecrets,
  type PlatformSetting,
  type Tenant,
  type TenantAuthSettings,
  type TenantIntrospectionSettings,
} from '@app/tenancy';
import { AuthUnavailable, CredentialRefused } from '../refusal';
import type { AuthAttempt } from './authenticator';
import {
  INTROSPECTION_CACHE_MS,
  INTROSPECTION_NEGATIVE_CACHE_MS,
  IntrospectionAuthenticator,
  ProbeFailed,
  TENANT_AUTH_SECRETS,
} from './introspection.authenticator';

interface Seen {
  method: string;
  headers: IncomingMessage['headers'];
  form: URLSearchParams;
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
      const one = {
        method: req.method ?? '',
        headers: req.headers,
        form: new URLSearchParams(Buffer.concat(chunks).toString()),
      };
      seen.push(one);
      handler(res, one);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, state: { url: `http://127.0.0.1:${port}/introspect`, seen } };
}

async function serve(handler: Handler): Promise<TestServer> {
  const { server, state } = await listen(handler);
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return state;
}

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

async function platformSecrets(): Promise<PlatformSecrets> {
  const settings = {
    findOneBy: () => Promise.resolve(null),
  } as unknown as Repository<PlatformSetting>;
  const secrets = new PlatformSecrets(loadConfig({ SECRETS_KEY: 'k'.repeat(40) }), settings);
  await secrets.onModuleInit();
  return secrets;
}

/** RFC 6749 2.3.1: both halves form-urlencoded before the Basic encoding. */
function basicCredentials(header: string | undefined): [string, string] {
  const decoded = Buffer.from((header ?? '').replace(/^Basic /, ''), 'base64').toString();
  const [id, secret] = decoded
    .split(':')
    .map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
  return [id, secret];
}

const PUBLIC_URL = 'https://mcp.example.com';
const RESOURCE = `${PUBLIC_URL}/t/acme/mcp`;
const TOKEN = 'opaque-token-0123456789';
const CLIENT_ID = 'platform-client';
const CLIENT_SECRET = 'sëcret: +x(1)';
const nowS = () => Math.floor(Date.now() / 1000);

function tenantWith(auth: TenantAuthSettings, id = 'tenant-1'): Tenant {
  return { id, slug: 'acme', status: 'active', settings: { auth } } as unknown as Tenant;
}

function attempt(bearer: string | undefined, tenant: Tenant | undefined): AuthAttempt {
  return {
    req: { headers: {} } as unknown as Request,
    bearer,
    tenant: () => Promise.resolve(tenant),
  };
}

describe(IntrospectionAuthenticator.name, () => {
  let egress: EgressPolicy;
  let secrets: PlatformSecrets;
  let sut: IntrospectionAuthenticator;
  let start: number;

  beforeAll(async () => {
    egress = new EgressPolicy(loadConfig({ EGRESS_ALLOW: '127.0.0.0/8' }));
    secrets = await platformSecrets();
  });
  afterAll(() => egress.onApplicationShutdown());
  beforeEach(() => {
    sut = new IntrospectionAuthenticator(egress, secrets, loadConfig({ PUBLIC_URL }));
    start = Date.now();
  });

  const settings = (
    endpoint: string,
    more: Partial<TenantIntrospectionSettings> = {},
  ): TenantIntrospectionSettings => ({
    endpoint,
    clientId: CLIENT_ID,
    clientSecretSealed: secrets.seal(TENANT_AUTH_SECRETS, CLIENT_SECRET),
    ...more,
  });
  const call = (endpoint: string, more?: Partial<TenantIntrospectionSettings>, token = TOKEN) =>
    sut.authenticate(attempt(token, tenantWith({ introspection: settings(endpoint, more) })));
  const active = (more: Record<string, unknown> = {}) => ({
    active: true,
    iss: 'https://idp.example.com',
    sub: 'alice',
    aud: RESOURCE,
    scope: 'notes:read math:use',
    exp: nowS() + 3600,
    ...more,
  });
  const cache = () => sut['answers']['kept'];
  /** Date.now this long after the test began (lru-cache's own clock, performance.now, stays real). */
  const later = (ms: number) => jest.spyOn(Date, 'now').mockReturnValue(start + ms);

  describe('accepts', () => {
    // Nothing is sealed or sent while accepting, so a placeholder secret will do.
    const introspection = {
      endpoint: 'http://127.0.0.1:1/introspect',
      clientId: CLIENT_ID,
      clientSecretSealed: 'unused',
    };
    const jwt = { issuer: 'https://idp.example.com' };
    const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

    it('takes opaque bearers on a tenant that introspects', async () => {
      expect(await sut.accepts(attempt(TOKEN, tenantWith({ introspection })))).toBe(true);
      expect(await sut.accepts(attempt(TOKEN, tenantWith({ introspection, jwt })))).toBe(true);
    });

    it('takes JWT-shaped bearers only when the tenant has no JWT issuer', async () => {
      expect(await sut.accepts(attempt(JWT, tenantWith({ introspection })))).toBe(true);
      expect(await sut.accepts(attempt(JWT, tenantWith({ introspection, jwt })))).toBe(false);
    });

    it('leaves API keys, requests without a bearer and tenants that do not introspect', async () => {
      const tenant = tenantWith({ introspection });
      expect(await sut.accepts(attempt('mcp_AbCdEfGhIjKl_secret', tenant))).toBe(false);
      expect(await sut.accepts(attempt(undefined, tenant))).toBe(false);
      expect(await sut.accepts(attempt(TOKEN, tenantWith({ jwt })))).toBe(false);
      expect(await sut.accepts(attempt(TOKEN, undefined))).toBe(false);
    });
  });

  describe('authenticate', () => {
    it('introspects the token with client_secret_basic and builds the principal', async () => {
      const body = active();
      const idp = await serve(json(body));

      const principal = await call(idp.url);

      expect(principal).toEqual({
        kind: 'introspection',
        id: 'https://idp.example.com#alice',
        tenantId: 'tenant-1',
        scopes: ['notes:read', 'math:use'],
        tools: null,
        resources: null,
        prompts: null,
        expiresAt: body.exp * 1000,
      });
      expect(idp.seen).toHaveLength(1);
      const [seen] = idp.seen;
      expect(seen.method).toBe('POST');
      expect(seen.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
      expect(seen.form.get('token')).toBe(TOKEN);
      expect(seen.form.get('token_type_hint')).toBe('access_token');
      expect(seen.form.has('client_secret')).toBe(false);
      expect(seen.headers.authorization).toMatch(/^Basic /);
      expect(basicCredentials(seen.headers.authorization)).toEqual([CLIENT_ID, CLIENT_SECRET]);
    });

    it('refuses an inactive token', async () => {
      const idp = await serve(json({ active: false }));

      const refusal = call(idp.url);
      await expect(refusal).rejects.toThrow(CredentialRefused);
      await expect(refusal).rejects.toMatchObject({
        reason: 'token_inactive',
        message:
          'the access token is not active (revoked, expired or unknown to the identity provider)',
      });
    });

    it('refuses a token the provider will not introspect (400 with an OAuth error), not an outage', async () => {
      const idp = await serve(json({ error: 'invalid_request', error_description: 'JWT' }, 400));

      await expect(call(idp.url)).rejects.toMatchObject({ reason: 'token_inactive' });
      // Remembered like any inactive answer.
      await expect(call(idp.url)).rejects.toMatchObject({ reason: 'token_inactive' });
      expect(idp.seen).toHaveLength(1);
    });

    it('treats a 400 without an OAuth error body as the endpoint failing', async () => {
      const idp = await serve(json('<html>bad</html>', 400));

      await expect(call(idp.url)).rejects.toBeInstanceOf(AuthUnavailable);
    });

    it('refuses a token whose exp has passed, with 30 s of tolerance', async () => {
      const expired = await serve(json(active({ exp: nowS() - 31 })));
      const justExpired = await serve(json(active({ exp: nowS() - 10 })));

      await expect(call(expired.url)).rejects.toMatchObject({
        reason: 'token_inactive',
        message: 'the access token has expired',
      });
      await expect(call(justExpired.url)).resolves.toMatchObject({ id: expect.any(String) });
    });

    it('takes a token without exp, and gives the principal no expiry', async () => {
      const idp = await serve(json(active({ exp: undefined })));

      expect((await call(idp.url)).expiresAt).toBeUndefined();
    });

    it.each([
      ['missing', undefined],
      ['another resource', 'https://mcp.example.com/t/other/mcp'],
      ['a list without this resource', ['https://a.example.com', 'https://b.example.com']],
    ])('refuses an audience that is %s', async (_what, aud) => {
      const idp = await serve(json(active({ aud })));

      await expect(call(idp.url)).rejects.toMatchObject({
        reason: 'invalid',
        message: `audience must be ${RESOURCE}`,
      });
    });

    it('takes the resource among several audiences, and the configured audience', async () => {
      const listed = await serve(json(active({ aud: ['https://a.example.com', RESOURCE] })));
      const configured = await serve(json(active({ aud: 'api://acme' })));
      const wrong = await serve(json(active({ aud: 'api://other' })));

      await expect(call(listed.url)).resolves.toBeDefined();
      await expect(call(configured.url, { audience: 'api://acme' })).resolves.toBeDefined();
      await expect(call(wrong.url, { audience: 'api://acme' })).rejects.toMatchObject({
        message: `audience must be ${RESOURCE} or api://acme`,
      });
    });

    it('names the subject by sub, else client_id, and the issuer by iss, else the endpoint', async () => {
      const clientOnly = await serve(
        json(active({ sub: undefined, client_id: 'svc', iss: undefined })),
      );
      const neither = await serve(json(active({ sub: undefined, client_id: undefined })));

      expect((await call(clientOnly.url)).id).toBe(`${clientOnly.url}#svc`);
      await expect(call(neither.url)).rejects.toMatchObject({
        reason: 'invalid',
        message: expect.stringContaining('sub or client_id') as string,
      });
    });

    it('reads scopes from the configured claim, dotted paths included', async () => {
      const idp = await serve(json(active({ realm_access: { roles: ['notes:write'] } })));

      const principal = await call(idp.url, { scopesClaim: 'realm_access.roles' });

      expect(principal.scopes).toEqual(['notes:write']);
    });

    it('has no scopes when the answer has none', async () => {
      const idp = await serve(json(active({ scope: undefined })));

      expect((await call(idp.url)).scopes).toEqual([]);
    });

    it('refuses on a tenant that does not introspect', async () => {
      await expect(sut.authenticate(attempt(TOKEN, tenantWith({})))).rejects.toMatchObject({
        reason: 'no_identity_provider',
      });
    });
  });

  describe('cache', () => {
    it('answers the same token from the cache, other tokens from the endpoint', async () => {
      const idp = await serve(json(active()));

      const first = await call(idp.url);
      const second = await call(idp.url);
      await call(idp.url, {}, 'another-token');

      expect(second).toEqual(first);
      expect(idp.seen).toHaveLength(2);
    });

    it('keeps each tenant’s answers apart', async () => {
      const idp = await serve(json(active()));
      const introspection = settings(idp.url);

      await sut.authenticate(attempt(TOKEN, tenantWith({ introspection }, 'tenant-1')));
      const other = await sut.authenticate(
        attempt(TOKEN, tenantWith({ introspection }, 'tenant-2')),
      );

      expect(other.tenantId).toBe('tenant-2');
      expect(idp.seen).toHaveLength(2);
    });

    it('keys entries by a 64-hex HMAC and stores no token', async () => {
      const idp = await serve(json(active()));

      await call(idp.url);

      const keys = [...cache().keys()];
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify([...cache().entries()])).not.toContain(TOKEN);
    });

    it('keeps an active answer for 30 s', async () => {
      const idp = await serve(json(active()));

      await call(idp.url);
      later(INTROSPECTION_CACHE_MS - 1000);
      await call(idp.url);
      expect(idp.seen).toHaveLength(1);
      later(INTROSPECTION_CACHE_MS + 1000);
      await call(idp.url);
      expect(idp.seen).toHaveLength(2);
    });

    it('keeps an active answer no longer than its exp', async () => {
      const idp = await serve(json(active({ exp: nowS() + 10 })));

      await call(idp.url);
      later(8_000);
      await call(idp.url);
      expect(idp.seen).toHaveLength(1);
      later(11_000);
      await call(idp.url);
      expect(idp.seen).toHaveLength(2);
    });

    it('keeps an inactive answer for 5 s', async () => {
      const idp = await serve(json({ active: false }));

      await expect(call(idp.url)).rejects.toMatchObject({ reason: 'token_inactive' });
      later(INTROSPECTION_NEGATIVE_CACHE_MS - 1000);
      await expect(call(idp.url)).rejects.toMatchObject({ reason: 'token_inactive' });
      expect(idp.seen).toHaveLength(1);
      later(INTROSPECTION_NEGATIVE_CACHE_MS + 1000);
      await expect(call(idp.url)).rejects.toMatchObject({ reason: 'token_inactive' });
      expect(idp.seen).toHaveLength(2);
    });

    it('checks the answer against the current settings on every hit', async () => {
      const idp = await serve(json(active({ aud: 'api://acme' })));

      await expect(call(idp.url, { audience: 'api://acme' })).resolves.toBeDefined();
      await expect(call(idp.url)).rejects.toMatchObject({ reason: 'invalid' });
      expect(idp.seen).toHaveLength(1);
    });

    it('does not keep failures', async () => {
      let status = 500;
      const idp = await serve((res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(active()));
      });
      jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);

      await expect(call(idp.url)).rejects.toThrow(AuthUnavailable);
      status = 200;
      await expect(call(idp.url)).resolves.toBeDefined();
      expect(idp.seen).toHaveLength(2);
    });

    it('makes one request for identical checks in flight at once', async () => {
      const idp = await serve(json(active(), 200, 100));

      const principals = await Promise.all(Array.from({ length: 5 }, () => call(idp.url)));

      expect(idp.seen).toHaveLength(1);
      expect(new Set(principals.map((p) => p.id))).toEqual(
        new Set(['https://idp.example.com#alice']),
      );
    });
  });

  describe('endpoint failures', () => {
    const unavailable = async (endpoint: string, reason: RegExp) => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const err = (await call(endpoint).catch((e: unknown) => e)) as AuthUnavailable;

      expect(err).toBeInstanceOf(AuthUnavailable);
      expect(err.getStatus()).toBe(503);
      expect(err.retryAfterSeconds).toBe(5);
      expect(err.message).toMatch(
        /^the identity provider’s introspection endpoint is unavailable \(.+\); try again shortly$/,
      );
      expect(err.message).toMatch(reason);
      expect(warn).toHaveBeenCalledTimes(1);
      const logged = String(warn.mock.calls[0][0]);
      for (const secret of [TOKEN, CLIENT_SECRET, 'q-secret']) {
        expect(err.message).not.toContain(secret);
        expect(logged).not.toContain(secret);
      }
      expect(cache().size).toBe(0);
      return logged;
    };

    it.each([401, 403])(
      'is unavailable when the endpoint refuses the platform’s credentials (%d)',
      async (status) => {
        const idp = await serve(json({ error: 'invalid_client' }, status));

        const logged = await unavailable(idp.url, /refused the platform’s client credentials/);
        expect(logged).toContain(`client_id "${CLIENT_ID}"`);
        expect(logged).toContain(`HTTP ${status}`);
      },
    );

    it('is unavailable on a 401 with a WWW-Authenticate challenge too', async () => {
      const idp = await serve((res) => {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="idp"' });
        res.end();
      });
      await unavailable(idp.url, /client credentials/);
    });

    it('is unavailable on another status', async () => {
      const idp = await serve(json(active(), 500));
      await unavailable(`${idp.url}?key=q-secret`, /HTTP 500/);
    });

    it.each([
      ['not JSON', 'not json {'],
      ['no active', { sub: 'alice' }],
      ['a string active', { active: 'true' }],
      ['an array', [active()]],
    ])('is unavailable on an answer with %s', async (_what, body) => {
      const idp = await serve(json(body));
      await unavailable(idp.url, /not an introspection response/);
    });

    it('is unavailable on an active answer with malformed fields', async () => {
      const idp = await serve(json(active({ exp: 'tomorrow', aud: 7 })));
      const logged = await unavailable(idp.url, /malformed/);
      expect(logged).toContain('exp, aud');
    });

    it('is unavailable on an answer over 64 KiB', async () => {
      const idp = await serve(json(active({ pad: 'x'.repeat(70_000) })));
      await unavailable(idp.url, /exceeds 65536 bytes/);
    });

    it('is unavailable when the endpoint is down', async () => {
      const logged = await unavailable(await closedPort(), /could not be reached/);
      expect(logged).toContain('ECONNREFUSED');
    });

    it('is unavailable when the endpoint does not answer within 3 s', async () => {
      const idp = await serve(() => undefined);
      await unavailable(idp.url, /no answer within 3000 ms/);
    });

    it('is unavailable when the egress policy refuses the address', async () => {
      await unavailable('http://10.0.0.1/introspect', /not allowed by the egress policy/);
    });

    it('is unavailable, with an error log, when the client secret cannot be opened', async () => {
      const idp = await serve(json(active()));
      const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);

      const err = await call(idp.url, { clientSecretSealed: 's1.garbage' }).catch(
        (e: unknown) => e,
      );

      expect(err).toBeInstanceOf(AuthUnavailable);
      expect((err as Error).message).toContain('cannot use its client secret');
      expect(error).toHaveBeenCalledTimes(1);
      expect(String(error.mock.calls[0][0])).toContain('tenant acme');
      expect(idp.seen).toHaveLength(0);
    });
  });

  describe('probe', () => {
    it('resolves when the endpoint answers an RFC 7662 body to the credentials', async () => {
      const idp = await serve(json({ active: false }));

      await expect(sut.probe(idp.url, 'admin-client', 'admin secret')).resolves.toBeUndefined();
      expect(basicCredentials(idp.seen[0].headers.authorization)).toEqual([
        'admin-client',
        'admin secret',
      ]);
      expect(idp.seen[0].form.get('token')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    const probeFailure = async (endpoint: string) => {
      const err = await sut.probe(endpoint, CLIENT_ID, CLIENT_SECRET).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProbeFailed);
      expect((err as Error).message).not.toContain(CLIENT_SECRET);
      return err as ProbeFailed;
    };

    it('fails with credentials when the endpoint refuses the client', async () => {
      const idp = await serve(json({ error: 'invalid_client' }, 401));

      expect(await probeFailure(idp.url)).toMatchObject({
        failure: 'credentials',
        message: 'the introspection endpoint refused the client credentials: HTTP 401',
      });
    });

    it('fails with unreachable when the endpoint is down or not allowed', async () => {
      const down = await probeFailure(await closedPort());
      const refused = await probeFailure('http://10.0.0.1/introspect');

      expect(down.failure).toBe('unreachable');
      expect(down.message).toContain('ECONNREFUSED');
      expect(refused.failure).toBe('unreachable');
      expect(refused.message).toContain('EGRESS_ALLOW');
    });

    it('fails with answer when the endpoint answers something else', async () => {
      const failing = await serve(json({}, 500));
      const garbage = await serve(json('<html>'));
      const notFound = await serve(json({ error: 'not_found' }, 404));

      expect(await probeFailure(failing.url)).toMatchObject({
        failure: 'answer',
        message: expect.stringContaining('HTTP 500') as string,
      });
      expect((await probeFailure(garbage.url)).failure).toBe('answer');
      expect((await probeFailure(notFound.url)).failure).toBe('answer');
    });
  });
});
