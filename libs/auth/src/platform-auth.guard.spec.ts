import {
  type ExecutionContext,
  ForbiddenException,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { loadConfig } from '@app/config';
import { RateLimited, type RateLimiter } from '@app/ratelimit';
import { Tenant, type TenantSettings, type TenantsService } from '@app/tenancy';
import type { AuthEvents, CredentialRefusal } from './auth-events';
import type { AuthAttempt, Authenticator } from './authenticators/authenticator';
import { Authenticated, Public } from './decorators';
import { PlatformAuthGuard } from './platform-auth.guard';
import type { Principal } from './principal';
import { AuthUnavailable, CredentialRefused } from './refusal';
import { TenantResolver } from './tenant-resolver';

const PUBLIC_URL = 'https://mcp.example.com';
const METRICS_TOKEN = 'scrape-me-0123456789abcdef';
const ADDRESS = '203.0.113.7';

// Route handlers: only their metadata counts.
class Routes {
  @Public() health() {}
  undecorated() {}
  @Authenticated('platform') platform() {}
  @Authenticated('tenant-admin') tenantAdmin() {}
  @Authenticated('tenant-member') mcp() {}
  @Authenticated('metrics') metrics() {}
}

@Public()
class PublicController {
  anything() {}
}

@Authenticated('tenant-member')
class MemberController {
  member() {}
  @Authenticated('tenant-admin') admin() {}
}

type Route = keyof Routes;

function tenant(
  slug: string,
  id: string,
  settings: TenantSettings = {},
  status = 'active',
): Tenant {
  return Object.assign(new Tenant(), { id, slug, name: slug, status, settings });
}

const ACME = tenant('acme', 't-acme');
const OTHER = tenant('other', 't-other');

const member = (tenantId: string, scopes: string[] = []): Principal => ({
  kind: 'api-key',
  id: `key-of-${tenantId}`,
  tenantId,
  scopes,
});
const ADMIN: Principal = {
  kind: 'platform-admin',
  id: 'platform-admin',
  tenantId: null,
  scopes: [],
};

/** A fake authenticator: accepts what `accepts` says, then resolves or refuses. */
class FakeAuthenticator implements Authenticator {
  readonly asked: AuthAttempt[] = [];
  readonly authenticated: AuthAttempt[] = [];

  constructor(
    readonly kind: string,
    private readonly accept: boolean | ((a: AuthAttempt) => Promise<boolean>),
    private readonly outcome: Principal | Error = member('t-acme'),
  ) {}

  accepts(a: AuthAttempt): boolean | Promise<boolean> {
    this.asked.push(a);
    return typeof this.accept === 'function' ? this.accept(a) : this.accept;
  }

  authenticate(a: AuthAttempt): Promise<Principal> {
    this.authenticated.push(a);
    return this.outcome instanceof Error
      ? Promise.reject(this.outcome)
      : Promise.resolve(this.outcome);
  }
}

/** The slug cache and the fresh read, counted. */
class FakeTenants {
  readonly resolved: string[] = [];
  readonly fresh: string[] = [];
  constructor(private readonly all: Tenant[]) {}

  resolve(slug: string): Promise<Tenant | null> {
    this.resolved.push(slug);
    return Promise.resolve(this.all.find((t) => t.slug === slug) ?? null);
  }

  findBySlug(slug: string): Promise<Tenant | null> {
    this.fresh.push(slug);
    return Promise.resolve(this.all.find((t) => t.slug === slug) ?? null);
  }
}

class FakeLimiter {
  readonly failures: { address: string; admin: boolean }[] = [];
  limited?: RateLimited;

  recordAuthFailure(address: string, admin: boolean): Promise<RateLimited | undefined> {
    this.failures.push({ address, admin });
    return Promise.resolve(this.limited);
  }
}

class FakeEvents {
  readonly refusals: CredentialRefusal[] = [];
  readonly rateLimits: string[] = [];

  credentialRefused(e: CredentialRefusal): void {
    this.refusals.push(e);
  }

  rateLimited(limit: string): void {
    this.rateLimits.push(limit);
  }
}

class FakeResponse {
  readonly headers: Record<string, string> = {};
  setHeader(name: string, value: string): void {
    this.headers[name.toLowerCase()] = value;
  }
  getHeader(name: string): string | undefined {
    return this.headers[name.toLowerCase()];
  }
}

interface RequestShape {
  headers?: Record<string, string>;
  query?: Record<string, string>;
  slug?: string | null;
}

type GuardedRequest = Request & { user?: Principal; tenant?: Tenant };

function request({ headers = {}, query = {}, slug = 'acme' }: RequestShape = {}): GuardedRequest {
  return {
    headers,
    query,
    params: slug === null ? {} : { tenant: slug },
    ip: ADDRESS,
    path: slug === null ? '/admin/tenants' : `/t/${slug}/mcp`,
    route: { path: slug === null ? '/admin/tenants' : '/t/:tenant/mcp' },
    socket: {},
  } as unknown as GuardedRequest;
}

function context(
  handler: () => void,
  cls: abstract new () => unknown,
  req: Request,
  res: FakeResponse,
): ExecutionContext {
  return {
    getHandler: () => handler,
    getClass: () => cls,
    switchToHttp: () => ({
      getRequest: () => req,
      getResponse: () => res,
      getNext: () => undefined,
    }),
  } as unknown as ExecutionContext;
}

describe(PlatformAuthGuard.name, () => {
  let tenants: FakeTenants;
  let limiter: FakeLimiter;
  let events: FakeEvents;
  let res: FakeResponse;

  function guard(authenticators: Authenticator[], env: NodeJS.ProcessEnv = {}): PlatformAuthGuard {
    return new PlatformAuthGuard(
      new Reflector(),
      new TenantResolver(tenants as unknown as TenantsService),
      loadConfig({ PUBLIC_URL, ...env }),
      limiter as unknown as RateLimiter,
      events as unknown as AuthEvents,
      authenticators,
    );
  }

  /** Runs the guard for a route of `Routes`; resolves to true, or rejects with what it threw. */
  const run = (sut: PlatformAuthGuard, route: Route, req: Request) =>
    sut.canActivate(context(Routes.prototype[route], Routes, req, res));

  async function thrown(promise: Promise<unknown>): Promise<Error> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof Error)) throw new Error(`expected a rejection, got ${String(err)}`);
    return err;
  }

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeEach(() => {
    tenants = new FakeTenants([ACME, OTHER]);
    limiter = new FakeLimiter();
    events = new FakeEvents();
    res = new FakeResponse();
  });

  describe('routes', () => {
    it('lets anyone into a @Public() route without asking any authenticator', async () => {
      const a = new FakeAuthenticator('a', true);
      const req = request();

      await expect(run(guard([a]), 'health', req)).resolves.toBe(true);

      expect(a.asked).toEqual([]);
      expect(req.user).toBeUndefined();
    });

    it('lets anyone into the routes of a @Public() controller', async () => {
      const a = new FakeAuthenticator('a', true);

      await expect(
        guard([a]).canActivate(
          context(PublicController.prototype.anything, PublicController, request(), res),
        ),
      ).resolves.toBe(true);
      expect(a.asked).toEqual([]);
    });

    it('closes an undecorated route to all but the platform admin', async () => {
      const err = await thrown(
        run(guard([new FakeAuthenticator('a', true)]), 'undecorated', request({ slug: null })),
      );
      expect(err).toBeInstanceOf(ForbiddenException);
      expect(err.message).toBe('this route needs the platform admin token');

      await expect(
        run(guard([new FakeAuthenticator('admin', true, ADMIN)]), 'undecorated', request()),
      ).resolves.toBe(true);
    });

    it('takes a controller’s access for its routes, and a route’s own over it', async () => {
      const sut = guard([new FakeAuthenticator('a', true, member('t-acme'))]);

      await expect(
        sut.canActivate(
          context(MemberController.prototype.member, MemberController, request(), res),
        ),
      ).resolves.toBe(true);
      const err = await thrown(
        sut.canActivate(
          context(MemberController.prototype.admin, MemberController, request(), res),
        ),
      );
      expect(err.message).toBe('this route needs the tenant:admin scope');
    });
  });

  describe('authenticators', () => {
    it('asks them in order; the first that accepts decides and the later ones are never asked', async () => {
      const first = new FakeAuthenticator('first', false);
      const second = new FakeAuthenticator('second', () => Promise.resolve(true), member('t-acme'));
      const third = new FakeAuthenticator('third', true, ADMIN);
      const req = request({ headers: bearer('tok') });

      await expect(run(guard([first, second, third]), 'mcp', req)).resolves.toBe(true);

      expect(first.asked).toHaveLength(1);
      expect(first.authenticated).toEqual([]);
      expect(second.authenticated).toHaveLength(1);
      expect(third.asked).toEqual([]);
      expect(req.user).toEqual(member('t-acme'));
      expect(req.tenant).toBe(ACME);
    });

    it('lets the refusal of the first that accepts stand, though a later one would accept', async () => {
      const first = new FakeAuthenticator(
        'first',
        true,
        new CredentialRefused('revoked', 'API key has been revoked'),
      );
      const later = new FakeAuthenticator('later', true);

      const err = await thrown(
        run(guard([first, later]), 'mcp', request({ headers: bearer('k') })),
      );

      expect(err).toBeInstanceOf(UnauthorizedException);
      expect(err.message).toBe('API key has been revoked');
      expect(later.asked).toEqual([]);
    });

    it('gives them the bearer token and the route’s tenant, read once however often asked', async () => {
      let seen: { bearer?: string; tenant?: Tenant } = {};
      const peek = new FakeAuthenticator('peek', async (a) => {
        seen = { bearer: a.bearer, tenant: await a.tenant() };
        await a.tenant();
        return false;
      });
      const take = new FakeAuthenticator(
        'take',
        async (a) => !!(await a.tenant()),
        member('t-acme', ['tenant:admin']),
      );

      await expect(
        run(guard([peek, take]), 'tenantAdmin', request({ headers: bearer('the-token') })),
      ).resolves.toBe(true);

      expect(seen).toEqual({ bearer: 'the-token', tenant: ACME });
      expect(tenants.resolved).toEqual(['acme']);
    });

    it('gives them no bearer when there is no Authorization header', async () => {
      const a = new FakeAuthenticator('a', true);

      await run(guard([a]), 'mcp', request({ headers: { 'x-api-key': 'k' } }));

      expect(a.asked[0].bearer).toBeUndefined();
    });
  });

  describe('credentials refused before any authenticator', () => {
    it.each(['api_key', 'apikey', 'api-key', 'key', 'token', 'access_token', 'auth'])(
      'refuses a credential in the URL (?%s=)',
      async (name) => {
        const a = new FakeAuthenticator('a', true);

        const err = await thrown(run(guard([a]), 'mcp', request({ query: { [name]: 'secret' } })));

        expect(err).toBeInstanceOf(CredentialRefused);
        expect(err.message).toBe(
          'credentials in the URL are refused (URLs end up in logs): send them in the Authorization or X-API-Key header',
        );
        expect(a.asked).toEqual([]);
        expect(events.refusals.map((r) => r.reason)).toEqual(['query_string']);
      },
    );

    it.each(['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', 'Bearer two tokens', 'token-alone'])(
      'refuses a malformed Authorization header (%j)',
      async (authorization) => {
        const a = new FakeAuthenticator('a', true);

        const err = await thrown(run(guard([a]), 'mcp', request({ headers: { authorization } })));

        expect(err).toBeInstanceOf(CredentialRefused);
        expect(err.message).toBe('Authorization header must be `Bearer <token>`');
        expect(a.asked).toEqual([]);
        expect(events.refusals.map((r) => r.reason)).toEqual(['malformed']);
      },
    );

    it('asks for credentials when no authenticator recognises the request', async () => {
      const err = await thrown(run(guard([new FakeAuthenticator('a', false)]), 'mcp', request()));

      expect(err).toBeInstanceOf(CredentialRefused);
      expect(err.message).toBe(
        'missing credentials: send `Authorization: Bearer <token>` or `X-API-Key: <key>`',
      );
    });

    it('names the tenant’s external auth headers in the missing-credentials message', async () => {
      tenants = new FakeTenants([
        tenant('acme', 't-acme', {
          auth: {
            external: {
              url: 'https://auth.acme.example/check',
              headers: ['x-acme-user', 'x-acme-sig'],
            },
          },
        }),
      ]);

      const err = await thrown(run(guard([new FakeAuthenticator('a', false)]), 'mcp', request()));

      expect(err.message).toBe(
        'missing credentials: send `Authorization: Bearer <token>` or `X-API-Key: <key>` or the headers x-acme-user, x-acme-sig',
      );
    });
  });

  describe('refusals', () => {
    const refusing = (reason: 'invalid' | 'expired' = 'invalid') =>
      new FakeAuthenticator('api-key', true, new CredentialRefused(reason, 'API key is not valid'));

    it('challenges on a tenant’s MCP route with its protected-resource metadata', async () => {
      await thrown(run(guard([refusing()]), 'mcp', request({ headers: { 'x-api-key': 'k' } })));

      expect(res.headers['www-authenticate']).toBe(
        `Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/t/acme/mcp"`,
      );
    });

    it('challenges for a missing credential too', async () => {
      await thrown(run(guard([]), 'mcp', request()));

      expect(res.headers['www-authenticate']).toBe(
        `Bearer resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/t/acme/mcp"`,
      );
    });

    it.each(['platform', 'tenantAdmin'] as const)(
      'challenges on a %s route with the admin realm',
      async (route) => {
        await thrown(run(guard([refusing()]), route, request({ headers: { 'x-api-key': 'k' } })));

        expect(res.headers['www-authenticate']).toBe('Bearer realm="mcp-platform-admin"');
      },
    );

    it('reports the refusal with its tenant, reason, address, request id and route', async () => {
      res.setHeader('X-Request-Id', 'req-1');

      await thrown(
        run(guard([refusing('expired')]), 'mcp', request({ headers: { 'x-api-key': 'k' } })),
      );

      expect(events.refusals).toEqual([
        {
          tenant: ACME,
          reason: 'expired',
          message: 'API key is not valid',
          address: ADDRESS,
          requestId: 'req-1',
          route: '/t/:tenant/mcp',
        },
      ]);
    });

    it('finds the tenant for the report on routes that did not need it', async () => {
      await thrown(
        run(guard([refusing()]), 'tenantAdmin', request({ headers: { 'x-api-key': 'k' } })),
      );

      expect(events.refusals[0].tenant).toBe(ACME);
    });

    it('counts a refused credential against the client address', async () => {
      await thrown(run(guard([refusing()]), 'mcp', request({ headers: { 'x-api-key': 'k' } })));

      expect(limiter.failures).toEqual([{ address: ADDRESS, admin: false }]);
    });

    it('counts refused admin tokens in their own budget', async () => {
      const admin = new FakeAuthenticator(
        'admin-token',
        true,
        new CredentialRefused('invalid', 'bearer token is not valid'),
      );

      await thrown(
        run(guard([admin]), 'platform', request({ slug: null, headers: bearer('guess') })),
      );

      expect(limiter.failures).toEqual([{ address: ADDRESS, admin: true }]);
    });

    it('counts a malformed Authorization header with the admin tokens', async () => {
      await thrown(run(guard([]), 'platform', request({ headers: { authorization: 'Basic x' } })));

      expect(limiter.failures).toEqual([{ address: ADDRESS, admin: true }]);
    });

    it('counts a credential in the URL with the others', async () => {
      await thrown(run(guard([]), 'mcp', request({ query: { token: 'x' } })));

      expect(limiter.failures).toEqual([{ address: ADDRESS, admin: false }]);
    });

    it('does not count a request without credentials: that is how a client asks for its challenge', async () => {
      await thrown(run(guard([new FakeAuthenticator('a', false)]), 'mcp', request()));

      expect(limiter.failures).toEqual([]);
      expect(events.refusals.map((r) => r.reason)).toEqual(['missing']);
    });

    it('answers 429 with Retry-After, not 401, once the address has had too many refusals', async () => {
      limiter.limited = new RateLimited('auth-failures', 'too many refused credentials', 42);

      const err = await thrown(
        run(guard([refusing()]), 'mcp', request({ headers: { 'x-api-key': 'k' } })),
      );

      expect(err).toBe(limiter.limited);
      expect((err as RateLimited).getStatus()).toBe(429);
      expect(res.headers['retry-after']).toBe('42');
      expect(res.headers['www-authenticate']).toBeUndefined();
      expect(events.rateLimits).toEqual(['auth-failures']);
      expect(events.refusals).toEqual([]);
    });

    it('answers 503 with Retry-After when the credential cannot be checked now', async () => {
      const unavailable = new AuthUnavailable('the introspection endpoint did not answer', 7);
      const a = new FakeAuthenticator('introspection', true, unavailable);

      const err = await thrown(run(guard([a]), 'mcp', request({ headers: bearer('opaque') })));

      expect(err).toBe(unavailable);
      expect(unavailable.getStatus()).toBe(503);
      expect(res.headers['retry-after']).toBe('7');
      expect(res.headers['www-authenticate']).toBeUndefined();
      expect(limiter.failures).toEqual([]);
      expect(events.refusals).toEqual([]);
    });

    it('passes other errors on untouched', async () => {
      const boom = new Error('database down');
      const a = new FakeAuthenticator('a', true, boom);

      await expect(run(guard([a]), 'mcp', request({ headers: bearer('x') }))).rejects.toBe(boom);
      expect(res.headers).toEqual({});
    });
  });

  describe('tenants', () => {
    it('answers 404 for an unknown tenant’s MCP route before asking for credentials', async () => {
      const a = new FakeAuthenticator('a', true);

      const err = await thrown(run(guard([a]), 'mcp', request({ slug: 'nope' })));

      expect(err).toBeInstanceOf(NotFoundException);
      expect(err.message).toBe('tenant "nope" not found');
      expect(a.asked).toEqual([]);
      expect(res.headers['www-authenticate']).toBeUndefined();
    });

    it('refuses another tenant’s credential on an MCP route as a 401 with the challenge', async () => {
      const a = new FakeAuthenticator('a', true, member('t-other'));

      const err = await thrown(run(guard([a]), 'mcp', request({ headers: bearer('x') })));

      expect(err).toBeInstanceOf(CredentialRefused);
      expect((err as CredentialRefused).reason).toBe('wrong_tenant');
      expect(err.message).toBe('this credential belongs to another tenant');
      expect(res.headers['www-authenticate']).toContain('resource_metadata=');
    });

    it('forbids another tenant’s credential on a tenant admin route', async () => {
      const a = new FakeAuthenticator('a', true, member('t-other', ['tenant:admin']));

      const err = await thrown(run(guard([a]), 'tenantAdmin', request({ headers: bearer('x') })));

      expect(err).toBeInstanceOf(ForbiddenException);
      expect(err.message).toBe('this credential belongs to another tenant');
    });

    it('forbids a suspended tenant’s credentials', async () => {
      tenants = new FakeTenants([tenant('acme', 't-acme', {}, 'suspended')]);
      const a = new FakeAuthenticator('a', true, member('t-acme'));

      const err = await thrown(run(guard([a]), 'mcp', request({ headers: bearer('x') })));

      expect(err).toBeInstanceOf(ForbiddenException);
      expect(err.message).toBe('tenant "acme" is suspended');
    });

    it('forbids a tenant admin route to a credential without the tenant:admin scope', async () => {
      const a = new FakeAuthenticator('a', true, member('t-acme', ['notes:read']));

      const err = await thrown(run(guard([a]), 'tenantAdmin', request({ headers: bearer('x') })));

      expect(err).toBeInstanceOf(ForbiddenException);
      expect(err.message).toBe('this route needs the tenant:admin scope');
    });

    it('opens a tenant admin route to a credential with the tenant:admin scope', async () => {
      const req = request({ headers: bearer('x') });
      const a = new FakeAuthenticator('a', true, member('t-acme', ['tenant:admin']));

      await expect(run(guard([a]), 'tenantAdmin', req)).resolves.toBe(true);

      expect(req.tenant).toBe(ACME);
    });

    it('forbids the platform routes to a tenant’s credential', async () => {
      const a = new FakeAuthenticator('a', true, member('t-acme', ['tenant:admin']));

      const err = await thrown(
        run(guard([a]), 'platform', request({ slug: null, headers: bearer('x') })),
      );

      expect(err).toBeInstanceOf(ForbiddenException);
      expect(err.message).toBe('this route needs the platform admin token');
    });
  });

  describe('the platform admin', () => {
    const admin = () => new FakeAuthenticator('admin-token', true, ADMIN);

    it('may use the platform routes', async () => {
      const req = request({ slug: null, headers: bearer('admin') });

      await expect(run(guard([admin()]), 'platform', req)).resolves.toBe(true);

      expect(req.user).toBe(ADMIN);
    });

    it('may use a tenant admin route, with the tenant read afresh', async () => {
      const req = request({ headers: bearer('admin') });

      await expect(run(guard([admin()]), 'tenantAdmin', req)).resolves.toBe(true);

      expect(req.tenant).toBe(ACME);
      expect(tenants.fresh).toEqual(['acme']);
    });

    it('gets a 404 on a tenant admin route of an unknown tenant', async () => {
      const err = await thrown(
        run(guard([admin()]), 'tenantAdmin', request({ slug: 'nope', headers: bearer('admin') })),
      );

      expect(err).toBeInstanceOf(NotFoundException);
      expect(err.message).toBe('tenant "nope" not found');
    });

    it('may use a tenant admin route without a tenant', async () => {
      await expect(
        run(guard([admin()]), 'tenantAdmin', request({ slug: null, headers: bearer('admin') })),
      ).resolves.toBe(true);
    });

    it('may not use a tenant’s MCP route', async () => {
      const err = await thrown(run(guard([admin()]), 'mcp', request({ headers: bearer('admin') })));

      expect(err).toBeInstanceOf(ForbiddenException);
      expect(err.message).toBe(
        'the platform admin token is for /admin routes; use a tenant credential here',
      );
    });
  });

  describe('metrics', () => {
    it('is open without a METRICS_TOKEN', async () => {
      const a = new FakeAuthenticator('a', true);

      await expect(run(guard([a]), 'metrics', request({ slug: null }))).resolves.toBe(true);

      expect(a.asked).toEqual([]);
    });

    it('opens to the METRICS_TOKEN, and to no authenticator’s credential', async () => {
      const a = new FakeAuthenticator('admin-token', true, ADMIN);
      const sut = guard([a], { METRICS_TOKEN });

      await expect(
        run(sut, 'metrics', request({ slug: null, headers: bearer(METRICS_TOKEN) })),
      ).resolves.toBe(true);
      expect(a.asked).toEqual([]);
    });

    it.each([
      ['another token', bearer('not-the-metrics-token')],
      ['no token', {}],
      ['the token in another scheme', { authorization: `Basic ${METRICS_TOKEN}` }],
    ])('refuses %s with a metrics challenge', async (_what, headers) => {
      const err = await thrown(
        run(guard([], { METRICS_TOKEN }), 'metrics', request({ slug: null, headers })),
      );

      expect(err).toBeInstanceOf(UnauthorizedException);
      expect(err.message).toBe('metrics need `Authorization: Bearer <METRICS_TOKEN>`');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    });
  });
});
