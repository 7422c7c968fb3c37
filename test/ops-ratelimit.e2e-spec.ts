import { pollUntil, RawResponse } from './support/http';
import { bearer, statelessList } from './support/mcp';
import {
  ADMIN,
  freshServerDatabase,
  launchPlatform,
  RunningPlatform,
  startPlatform,
  usePlatform,
} from './support/platform';
import { hasRedisServer, LocalRedis, startRedis } from './support/redis';

/** The rate-limit headers of a response, as numbers (NaN when absent). */
const limitHeaders = (res: RawResponse) => ({
  limit: Number(res.headers.get('ratelimit-limit')),
  remaining: Number(res.headers.get('ratelimit-remaining')),
  reset: Number(res.headers.get('ratelimit-reset')),
});

/** Asserts a 429 the way a client must be able to read it. */
function expectTooMany(res: RawResponse, limit: number | undefined, message: RegExp): number {
  expect(res.status).toBe(429);
  const retryAfter = res.headers.get('retry-after') ?? '';
  expect(retryAfter).toMatch(/^[0-9]+$/);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(retryAfter)).toBeLessThanOrEqual(60);
  if (limit !== undefined) {
    expect(res.headers.get('ratelimit-limit')).toBe(String(limit));
    expect(res.headers.get('ratelimit-remaining')).toBe('0');
    expect(res.headers.get('ratelimit-reset')).toMatch(/^[0-9]+$/);
  }
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  expect(res.json).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
  expect((res.json as { message: string }).message).toMatch(message);
  expect(res.headers.get('mcp-session-id')).toBeNull();
  return Number(retryAfter);
}

/** `n` authenticated MCP requests in a row; returns every response. */
async function burst(
  p: RunningPlatform,
  slug: string,
  auth: Record<string, string>,
  n: number,
): Promise<RawResponse[]> {
  const out: RawResponse[] = [];
  for (let i = 0; i < n; i++) out.push(await statelessList(p, slug, auth));
  return out;
}

describe('rate limits per key and per tenant (ops)', () => {
  const p = usePlatform({ RATE_LIMIT_KEY_PER_MINUTE: '5', MCP_STATELESS: 'true' });

  it('refuses the 6th request of a key with 429, Retry-After and RateLimit headers', async () => {
    const t = await p.admin.tenantWithKey([]);
    const ok = await burst(p, t.slug, bearer(t.key), 5);
    expect(ok.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(ok.map((r) => limitHeaders(r).limit)).toEqual([5, 5, 5, 5, 5]);
    expect(ok.map((r) => limitHeaders(r).remaining)).toEqual([4, 3, 2, 1, 0]);
    for (const r of ok) {
      expect(r.headers.get('ratelimit-reset')).toMatch(/^[0-9]+$/);
      expect(r.headers.get('retry-after')).toBeNull();
      expect(r.messages[0]?.result).toHaveProperty('tools');
    }

    const sixth = await statelessList(p, t.slug, bearer(t.key));
    expectTooMany(sixth, 5, /rate limit of 5 requests per minute/);
    expect((sixth.json as { message: string }).message).not.toContain(t.key);
    // Still refused right after, and through the other header too.
    expectTooMany(await statelessList(p, t.slug, { 'X-API-Key': t.key }), 5, /rate limit/);
  });

  it('leaves another key of the same tenant unaffected', async () => {
    const t = await p.admin.tenantWithKey([]);
    const other = await p.admin.createKey(t.slug, { name: 'other' });
    await burst(p, t.slug, bearer(t.key), 5);
    expect((await statelessList(p, t.slug, bearer(t.key))).status).toBe(429);

    const res = await statelessList(p, t.slug, bearer(other.secret));
    expect(res.status).toBe(200);
    expect(limitHeaders(res)).toMatchObject({ limit: 5, remaining: 4 });
  });

  it('applies a key’s own rateLimitPerMinute, set on create or by PATCH', async () => {
    const { slug } = await p.admin.createTenant('rl-own');
    const created = await p.admin.createKey(slug, { name: 'two a minute', rateLimitPerMinute: 2 });
    expect(created.rateLimitPerMinute).toBe(2);
    const two = await burst(p, slug, bearer(created.secret), 3);
    expect(two.slice(0, 2).map((r) => [r.status, limitHeaders(r).remaining])).toEqual([
      [200, 1],
      [200, 0],
    ]);
    expectTooMany(two[2], 2, /rate limit of 2 requests per minute/);

    // A higher limit than the platform's is honoured too.
    const generous = await p.admin.createKey(slug, { name: 'generous' });
    const patched = await p.admin.patchKey(slug, generous.id, { rateLimitPerMinute: 8 });
    expect(patched.rateLimitPerMinute).toBe(8);
    const eight = await burst(p, slug, bearer(generous.secret), 9);
    expect(eight.slice(0, 8).every((r) => r.status === 200)).toBe(true);
    expect(limitHeaders(eight[7])).toMatchObject({ limit: 8, remaining: 0 });
    expectTooMany(eight[8], 8, /rate limit of 8 requests per minute/);

    // A lower one, set by PATCH after the key was created (and cached).
    const tight = await p.admin.createKey(slug, { name: 'tight' });
    expect((await statelessList(p, slug, bearer(tight.secret))).status).toBe(200);
    await p.admin.patchKey(slug, tight.id, { rateLimitPerMinute: 1 });
    const after = await burst(p, slug, bearer(tight.secret), 2);
    expect(after[0].status).toBe(200);
    expect(limitHeaders(after[0])).toMatchObject({ limit: 1, remaining: 0 });
    expectTooMany(after[1], 1, /rate limit of 1 requests per minute|rate limit of 1 request/);
  });

  it('applies a tenant’s rateLimits.keyPerMinute to each of its keys, below a key’s own', async () => {
    const { slug } = await p.admin.createTenant('rl-tkey');
    const res = await p.admin.patchTenant(slug, { rateLimits: { keyPerMinute: 3 } });
    expect(res.rateLimits).toEqual({ keyPerMinute: 3 });
    const a = await p.admin.createKey(slug, { name: 'a' });
    const b = await p.admin.createKey(slug, { name: 'b' });
    const own = await p.admin.createKey(slug, { name: 'own limit', rateLimitPerMinute: 4 });

    for (const key of [a.secret, b.secret]) {
      const rs = await burst(p, slug, bearer(key), 4);
      expect(rs.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
      expect(limitHeaders(rs[0]).limit).toBe(3);
      expectTooMany(rs[3], 3, /per credential/);
    }
    const ownRs = await burst(p, slug, bearer(own.secret), 5);
    expect(ownRs.slice(0, 4).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expectTooMany(ownRs[4], 4, /rate limit of 4/);
  });

  it('shares a tenant’s rateLimits.tenantPerMinute between all its keys', async () => {
    const { slug } = await p.admin.createTenant('rl-tenant');
    const a = bearer((await p.admin.createKey(slug, { name: 'a' })).secret);
    const b = bearer((await p.admin.createKey(slug, { name: 'b' })).secret);
    // Known (and cached) before the limit is set.
    expect((await statelessList(p, slug, a)).status).toBe(200);
    const res = await p.admin.patchTenant(slug, { rateLimits: { tenantPerMinute: 4 } });
    expect(res.rateLimits).toEqual({ tenantPerMinute: 4 });

    const seq: RawResponse[] = [];
    for (const auth of [a, b, a, b]) seq.push(await statelessList(p, slug, auth));
    expect(seq.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const refused = await statelessList(p, slug, b);
    expectTooMany(refused, 4, /rate limit of 4 requests per minute per tenant/);
    expectTooMany(await statelessList(p, slug, a), 4, /per tenant/);
    // A new key of the tenant draws from the same, empty bucket.
    const c = await p.admin.createKey(slug, { name: 'c' });
    expectTooMany(await statelessList(p, slug, bearer(c.secret)), 4, /per tenant/);

    // Another tenant is not affected.
    const other = await p.admin.tenantWithKey([]);
    expect((await statelessList(p, other.slug, bearer(other.key))).status).toBe(200);
  });

  it('never limits the platform admin, nor counts its requests against a tenant', async () => {
    const { slug } = await p.admin.createTenant('rl-admin');
    await p.admin.patchTenant(slug, { rateLimits: { keyPerMinute: 1, tenantPerMinute: 1 } });
    for (let i = 0; i < 12; i++) {
      const path = [`/admin/tenants/${slug}`, `/admin/tenants/${slug}/keys`, '/admin/tenants'][
        i % 3
      ];
      const res = await p.http().get(path).set(ADMIN);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect(res.headers['ratelimit-limit']).toBeUndefined();
      expect(res.headers['retry-after']).toBeUndefined();
    }
    // The tenant's single request a minute is still there for its own key.
    const key = await p.admin.createKey(slug, { name: 'k' });
    const res = await statelessList(p, slug, bearer(key.secret));
    expect(res.status).toBe(200);
    expect(limitHeaders(res).remaining).toBe(0);
  });
});

describe('failed-authentication limit per client address (ops)', () => {
  const p = usePlatform({ AUTH_FAILURES_PER_MINUTE: '3', MCP_STATELESS: 'true' });

  const bad = 'mcp_AAAAAAAAAAAA_' + 'B'.repeat(38);

  it('answers refused credentials with 429 after 3, per address, and never turns away a valid key', async () => {
    // The app trusts X-Forwarded-For from a loopback proxy, so these stand for distinct clients.
    const t = await p.admin.tenantWithKey([]);
    const from = (ip: string) => ({ 'X-Forwarded-For': ip });
    for (let i = 0; i < 3; i++) {
      const res = await statelessList(p, t.slug, { ...bearer(bad), ...from('203.0.113.7') });
      expect(res.status).toBe(401);
    }
    expectTooMany(
      await statelessList(p, t.slug, { ...bearer(bad), ...from('203.0.113.7') }),
      undefined,
      /too many refused credentials from this address/,
    );
    const valid = await statelessList(p, t.slug, { ...bearer(t.key), ...from('203.0.113.7') });
    expect(valid.status).toBe(200);
    expect(
      (await statelessList(p, t.slug, { ...bearer(bad), ...from('203.0.113.8') })).status,
    ).toBe(401);
    await p.http().get(`/admin/tenants/${t.slug}`).set(ADMIN).expect(200);
  });

  it('answers 429 to refused credentials until the bucket refills, then 401 again', async () => {
    const t = await p.admin.tenantWithKey([]);
    for (let i = 0; i < 3; i++) {
      const res = await statelessList(p, t.slug, bearer(bad));
      expect(res.status).toBe(401);
    }
    const blocked = await statelessList(p, t.slug, bearer(bad));
    const retryAfter = expectTooMany(blocked, undefined, /too many refused credentials/);
    const message = (blocked.json as { message: string }).message;
    expect(message).toBe(
      `too many refused credentials from this address; retry in ${retryAfter} s (valid credentials are not affected)`,
    );
    expect((await statelessList(p, t.slug, bearer(t.key))).status).toBe(200);
    // The limit is temporary: one token comes back within Retry-After seconds (plus slack).
    const res = await pollUntil(
      (retryAfter + 5) * 1000,
      'a refused credential answered 401 again',
      async () => {
        const r = await statelessList(p, t.slug, bearer(bad));
        return r.status === 429 ? undefined : r;
      },
      1000,
    );
    expect(res.status).toBe(401);
  }, 60_000);
});

/**
 * The replica tests below run two instances in one test process. Each must keep authenticating
 * against its own database and configuration, whatever other instance starts or stops beside it.
 */
describe('instances side by side in one process (ops)', () => {
  it('authenticates each instance’s keys against its own database while another starts and stops', async () => {
    const a = await startPlatform({ MCP_STATELESS: 'true' });
    let b: RunningPlatform | undefined;
    try {
      const t = await a.admin.tenantWithKey([]);
      expect((await statelessList(a, t.slug, bearer(t.key))).status).toBe(200);
      b = await startPlatform({ MCP_STATELESS: 'true' });
      const u = await b.admin.tenantWithKey([]);
      expect((await statelessList(b, u.slug, bearer(u.key))).status).toBe(200);

      const whileBRuns = await statelessList(a, t.slug, bearer(t.key));
      expect({ status: whileBRuns.status, body: whileBRuns.json }).toMatchObject({ status: 200 });
      await b.close();
      b = undefined;
      const afterBStopped = await statelessList(a, t.slug, bearer(t.key));
      expect({ status: afterBStopped.status, body: afterBStopped.json }).toMatchObject({
        status: 200,
      });
    } finally {
      await b?.close();
      await a.close();
    }
  });
});

// Only defined where a redis-server binary is installed (a test that could never run would just
// be a skipped test): buckets in Redis, and, with DATABASE_URL, shared by two instances. Every
// test runs its own instances, so none depends on another's leftovers.
if (hasRedisServer()) {
  describe('rate limits in Redis (ops)', () => {
    let redis: LocalRedis;
    const env = () => ({
      REDIS_URL: redis.url,
      RATE_LIMIT_KEY_PER_MINUTE: '4',
      MCP_STATELESS: 'true',
    });

    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('keeps the buckets in Redis and limits from them', async () => {
      const app = await startPlatform(env());
      try {
        const t = await app.admin.tenantWithKey([]);
        const rs = await burst(app, t.slug, bearer(t.key), 5);
        expect(rs.slice(0, 4).map((r) => limitHeaders(r).remaining)).toEqual([3, 2, 1, 0]);
        expectTooMany(rs[4], 4, /rate limit of 4/);

        const bucket = `mcp:rl:key:${t.keyId}`;
        expect(await redis.client.keys('mcp:rl:*')).toContain(bucket);
        expect(Number(await redis.client.hget(bucket, 't'))).toBeLessThan(1);
        expect(await redis.client.pttl(bucket)).toBeGreaterThan(0);

        // Emptying the bucket in Redis gives the key its full allowance back.
        await redis.client.del(bucket);
        const fresh = await statelessList(app, t.slug, bearer(t.key));
        expect(fresh.status).toBe(200);
        expect(limitHeaders(fresh)).toMatchObject({ limit: 4, remaining: 3 });
      } finally {
        await app.close();
      }
    });

    if (process.env.DATABASE_URL) {
      it('shares one bucket between two instances on the same database', async () => {
        const db = await freshServerDatabase(process.env.DATABASE_URL!);
        const shared = { ...env(), DATABASE_URL: db.url };
        let a: RunningPlatform | undefined;
        let b: RunningPlatform | undefined;
        try {
          a = await launchPlatform(shared);
          b = await launchPlatform(shared);
          const t = await a.admin.tenantWithKey([]);
          const onA = await burst(a, t.slug, bearer(t.key), 2);
          expect(onA.map((r) => [r.status, limitHeaders(r).remaining])).toEqual([
            [200, 3],
            [200, 2],
          ]);
          const onB = await burst(b, t.slug, bearer(t.key), 3);
          expect(onB.slice(0, 2).map((r) => [r.status, limitHeaders(r).remaining])).toEqual([
            [200, 1],
            [200, 0],
          ]);
          expectTooMany(onB[2], 4, /rate limit of 4/);
          expectTooMany(await statelessList(a, t.slug, bearer(t.key)), 4, /rate limit of 4/);
        } finally {
          await b?.close();
          await a?.close();
          await db.drop();
        }
      });
    }

    it('lets requests through while Redis is unreachable, and limits again once it is back', async () => {
      const app = await startPlatform(env());
      try {
        const t = await app.admin.tenantWithKey([]);
        expect((await statelessList(app, t.slug, bearer(t.key))).status).toBe(200);
        await redis.kill();
        const rs = await burst(app, t.slug, bearer(t.key), 6);
        expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);

        await redis.restart();
        // Once the limiter reaches Redis again (a fresh, empty one), the key draws from it.
        const limited = await pollUntil(
          10_000,
          'the limiter drawing from Redis again',
          async () => {
            const r = await statelessList(app, t.slug, bearer(t.key));
            return r.headers.get('ratelimit-limit') === null ? undefined : r;
          },
          200,
        );
        expect(limited.status).toBe(200);
        expect(limitHeaders(limited).limit).toBe(4);
        const rest = await burst(app, t.slug, bearer(t.key), limitHeaders(limited).remaining + 1);
        expectTooMany(rest[rest.length - 1], 4, /rate limit of 4/);
      } finally {
        await app.close();
      }
    });
  });
}
