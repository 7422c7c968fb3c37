import type { ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';
import { loadConfig } from '@app/config';
import {
  type ConcurrencyCaps,
  type ConcurrencyLimiter,
  type LimitName,
  RateLimited,
  type RateLimiter,
} from '@app/ratelimit';
import { Tenant, type TenantRateLimits } from '@app/tenancy';
import type { AuthEvents } from './auth-events';
import type { Principal } from './principal';
import { RateLimitGuard } from './rate-limit.guard';

interface Consumed {
  limit: LimitName;
  key: string;
  perMinute: number;
}

interface Acquired {
  tenantId: string;
  principalId: string;
  caps: ConcurrencyCaps;
}

/** The per-minute limiter: records what was taken, and refuses the limits told to. */
class FakeRateLimiter {
  readonly consumed: Consumed[] = [];
  refuse = new Set<LimitName>();
  error?: Error;

  consume(_res: Response, limit: LimitName, key: string, perMinute: number): Promise<void> {
    this.consumed.push({ limit, key, perMinute });
    if (this.error) return Promise.reject(this.error);
    if (this.refuse.has(limit)) {
      return Promise.reject(new RateLimited(limit, `rate limit of ${perMinute} exceeded`));
    }
    return Promise.resolve();
  }
}

class FakeConcurrencyLimiter {
  readonly acquired: Acquired[] = [];
  refuse?: RateLimited;

  acquire(_res: Response, tenantId: string, principalId: string, caps: ConcurrencyCaps): void {
    this.acquired.push({ tenantId, principalId, caps });
    if (this.refuse) throw this.refuse;
  }
}

class FakeEvents {
  readonly rateLimits: string[] = [];
  rateLimited(limit: string): void {
    this.rateLimits.push(limit);
  }
}

const config = loadConfig({
  RATE_LIMIT_TENANT_PER_MINUTE: '6000',
  RATE_LIMIT_KEY_PER_MINUTE: '600',
  MAX_INFLIGHT_PER_TENANT: '64',
  MAX_INFLIGHT_PER_KEY: '32',
});

function tenant(rateLimits?: TenantRateLimits): Tenant {
  return Object.assign(new Tenant(), {
    id: 't-acme',
    slug: 'acme',
    name: 'Acme',
    status: 'active',
    settings: rateLimits ? { rateLimits } : {},
  });
}

const key = (extra: Partial<Principal> = {}): Principal => ({
  kind: 'api-key',
  id: 'key-1',
  tenantId: 't-acme',
  scopes: [],
  ...extra,
});
const ADMIN: Principal = {
  kind: 'platform-admin',
  id: 'platform-admin',
  tenantId: null,
  scopes: [],
};

function context(req: { method: string; user?: Principal; tenant?: Tenant }): ExecutionContext {
  const res = { setHeader: () => undefined } as unknown as Response;
  return {
    switchToHttp: () => ({ getRequest: () => req as unknown as Request, getResponse: () => res }),
  } as unknown as ExecutionContext;
}

describe(RateLimitGuard.name, () => {
  let limiter: FakeRateLimiter;
  let concurrency: FakeConcurrencyLimiter;
  let events: FakeEvents;
  let sut: RateLimitGuard;

  beforeEach(() => {
    limiter = new FakeRateLimiter();
    concurrency = new FakeConcurrencyLimiter();
    events = new FakeEvents();
    sut = new RateLimitGuard(
      config,
      limiter as unknown as RateLimiter,
      concurrency as unknown as ConcurrencyLimiter,
      events as unknown as AuthEvents,
    );
  });

  describe('not limited here', () => {
    it.each([
      ['an anonymous (public) request', { method: 'POST' }],
      ['a principal on a route without a tenant', { method: 'POST', user: key() }],
      ['the platform admin on a tenant’s route', { method: 'POST', user: ADMIN, tenant: tenant() }],
    ])('%s', async (_what, req) => {
      await expect(sut.canActivate(context(req))).resolves.toBe(true);

      expect(limiter.consumed).toEqual([]);
      expect(concurrency.acquired).toEqual([]);
    });
  });

  describe('a tenant’s principal', () => {
    it('draws from the tenant’s and its own per-minute limits and takes in-flight slots, at the platform defaults', async () => {
      await expect(
        sut.canActivate(context({ method: 'POST', user: key(), tenant: tenant() })),
      ).resolves.toBe(true);

      expect(limiter.consumed).toEqual([
        { limit: 'tenant', key: 't-acme', perMinute: 6000 },
        { limit: 'key', key: 'key-1', perMinute: 600 },
      ]);
      expect(concurrency.acquired).toEqual([
        { tenantId: 't-acme', principalId: 'key-1', caps: { tenant: 64, key: 32 } },
      ]);
    });

    it('takes no in-flight slot for a GET (an event stream, with caps of its own)', async () => {
      await sut.canActivate(context({ method: 'GET', user: key(), tenant: tenant() }));

      expect(limiter.consumed).toHaveLength(2);
      expect(concurrency.acquired).toEqual([]);
    });

    it('uses the tenant’s own limits over the platform’s', async () => {
      const limits = {
        tenantPerMinute: 100,
        keyPerMinute: 10,
        tenantConcurrency: 4,
        keyConcurrency: 2,
      };

      await sut.canActivate(context({ method: 'POST', user: key(), tenant: tenant(limits) }));

      expect(limiter.consumed.map((c) => c.perMinute)).toEqual([100, 10]);
      expect(concurrency.acquired[0].caps).toEqual({ tenant: 4, key: 2 });
    });

    it('passes a limit of 0 (off) on as it is', async () => {
      const limits = {
        tenantPerMinute: 0,
        keyPerMinute: 0,
        tenantConcurrency: 0,
        keyConcurrency: 0,
      };

      await sut.canActivate(context({ method: 'POST', user: key(), tenant: tenant(limits) }));

      expect(limiter.consumed.map((c) => c.perMinute)).toEqual([0, 0]);
      expect(concurrency.acquired[0].caps).toEqual({ tenant: 0, key: 0 });
    });

    it('uses the credential’s own per-minute limit over the tenant’s', async () => {
      await sut.canActivate(
        context({
          method: 'POST',
          user: key({ rateLimitPerMinute: 5 }),
          tenant: tenant({ keyPerMinute: 10 }),
        }),
      );

      expect(limiter.consumed[1]).toEqual({ limit: 'key', key: 'key-1', perMinute: 5 });
    });

    it('falls back to the tenant’s limit when the credential’s is null', async () => {
      await sut.canActivate(
        context({
          method: 'POST',
          user: key({ rateLimitPerMinute: null }),
          tenant: tenant({ keyPerMinute: 10 }),
        }),
      );

      expect(limiter.consumed[1].perMinute).toBe(10);
    });

    it('limits a JWT subject by its principal id', async () => {
      const jwt = key({ kind: 'jwt', id: 'https://idp.example#alice' });

      await sut.canActivate(context({ method: 'POST', user: jwt, tenant: tenant() }));

      expect(limiter.consumed[1].key).toBe('https://idp.example#alice');
      expect(concurrency.acquired[0].principalId).toBe('https://idp.example#alice');
    });
  });

  describe('over a limit', () => {
    it('refuses with the tenant limit’s 429, counted, without touching the key’s', async () => {
      limiter.refuse.add('tenant');

      const err: unknown = await sut
        .canActivate(context({ method: 'POST', user: key(), tenant: tenant() }))
        .catch((e: unknown) => e);

      expect(err).toBeInstanceOf(RateLimited);
      expect((err as RateLimited).getStatus()).toBe(429);
      expect((err as RateLimited).limit).toBe('tenant');
      expect(limiter.consumed.map((c) => c.limit)).toEqual(['tenant']);
      expect(concurrency.acquired).toEqual([]);
      expect(events.rateLimits).toEqual(['tenant']);
    });

    it('refuses with the key limit’s 429, counted, without taking a slot', async () => {
      limiter.refuse.add('key');

      await expect(
        sut.canActivate(context({ method: 'POST', user: key(), tenant: tenant() })),
      ).rejects.toMatchObject({ limit: 'key' });

      expect(concurrency.acquired).toEqual([]);
      expect(events.rateLimits).toEqual(['key']);
    });

    it('refuses with the in-flight cap’s 429, counted', async () => {
      concurrency.refuse = new RateLimited('key-concurrency', 'too many requests in flight');

      await expect(
        sut.canActivate(context({ method: 'POST', user: key(), tenant: tenant() })),
      ).rejects.toBe(concurrency.refuse);

      expect(events.rateLimits).toEqual(['key-concurrency']);
    });

    it('passes another failure on without counting it as a rate limit', async () => {
      limiter.error = new Error('redis exploded');

      await expect(
        sut.canActivate(context({ method: 'POST', user: key(), tenant: tenant() })),
      ).rejects.toBe(limiter.error);

      expect(events.rateLimits).toEqual([]);
    });
  });
});
