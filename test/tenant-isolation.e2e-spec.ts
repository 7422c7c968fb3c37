import { TenantsService } from '@app/tenancy';
import { ToolRegistry } from '@app/tools';
import { bearer, TenantWithKey } from './support/admin';
import { heldRequest, pollUntil, sleep } from './support/http';
import { MCP_POST_HEADERS, rawPost, toolsCall } from './support/mcp';
import { ADMIN, RunningPlatform, usePlatform } from './support/platform';

/** A platform of the describe block, and a tenant with a math:use key on it. */
function platformWithTenant(env: Record<string, string>): {
  p: RunningPlatform;
  t: TenantWithKey;
} {
  const p = usePlatform({ MCP_STATELESS: 'true', ...env });
  const t = {} as TenantWithKey;
  beforeAll(async () => {
    Object.assign(t, await p.admin.tenantWithKey(['math:use']));
  });
  return { p, t };
}

/** A tools/call whose body is announced but held back after its first byte, until `release()`. */
async function heldCall(p: RunningPlatform, t: TenantWithKey, body: string) {
  const held = heldRequest(p.url, {
    path: `/t/${t.slug}/mcp`,
    headers: { ...MCP_POST_HEADERS, ...bearer(t.key) },
    body,
    hold: 1,
  });
  await held.sent;
  // The server has had a moment to parse the headers; whether it holds a slot is checked after.
  await sleep(100);
  return held;
}

/** Fails when a request that should still be held has been answered already. */
function stillHeld(...held: { answered: () => unknown }[]): void {
  for (const h of held) {
    const outcome = h.answered();
    if (outcome !== undefined) {
      throw new Error(`a held request was answered early: ${JSON.stringify(outcome)}`);
    }
  }
}

describe('tenant isolation: cost bounded before work, fair sharing, refusals that cannot be turned against users', () => {
  describe('requests are authenticated before their body is read', () => {
    const { p, t } = platformWithTenant({});

    const junk = 'x'.repeat(2 * 1024 * 1024);

    it('answers an unauthenticated oversized, unparsable body on an MCP endpoint with 401, not 400 or 413', async () => {
      const res = await fetch(`${p.url}/t/${t.slug}/mcp`, {
        method: 'POST',
        headers: MCP_POST_HEADERS,
        body: junk,
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/resource_metadata=/);
    });

    it('does the same on an admin route', async () => {
      const res = await fetch(`${p.url}/admin/tenants`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Authorization: 'Bearer not-a-valid-token-0123456789',
        },
        body: junk,
      });
      expect(res.status).toBe(401);
    });

    it('still parses and refuses bad bodies of authenticated requests', async () => {
      const bad = await fetch(`${p.url}/t/${t.slug}/mcp`, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, ...bearer(t.key) },
        body: '{"jsonrpc":',
      });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: number } }).error.code).toBe(-32700);
      const admin = await fetch(`${p.url}/admin/tenants`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...ADMIN },
        body: '{"slug":',
      });
      expect(admin.status).toBe(400);
      expect(await admin.json()).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: expect.stringMatching(/not valid JSON/),
      });
    });

    it('refuses a request larger than any tool allows from its bytes, before parsing it', async () => {
      const largest = p.app.get(ToolRegistry).largestArgumentBytes();
      const huge = toolsCall('add', { a: 1, b: 2, x: 'y'.repeat(largest) });
      expect(JSON.stringify(huge).length).toBeGreaterThan(largest);
      const res = await rawPost(p, t.slug, huge, bearer(t.key));
      expect(res.status).toBe(413);
      expect(res.messages[0]?.error).toEqual({
        code: -32602,
        message: expect.stringMatching(
          new RegExp(`no request may take more than ${largest} bytes`),
        ),
      });
    });

    it('refuses a tools/call over its own tool’s byte limit, with the limit in the message', async () => {
      const limit = p.config.toolArgumentLimits.maxBytes;
      const res = await rawPost(
        p,
        t.slug,
        toolsCall('add', { a: 1, b: 2, x: 'y'.repeat(limit) }),
        bearer(t.key),
      );
      expect(res.status).toBe(413);
      expect(res.messages[0]?.error?.message).toMatch(
        new RegExp(`a tools/call of add may take at most ${limit} bytes`),
      );
      const fine = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), bearer(t.key));
      expect(fine.status).toBe(200);
    });

    it('answers unknown tenants with 404 from memory: a flood of made-up names costs a few lookups a second', async () => {
      const lookups = jest.spyOn(p.app.get(TenantsService), 'findBySlug');
      try {
        for (let i = 0; i < 60; i++) {
          const res = await rawPost(p, `no-such-tenant-${i}`, toolsCall('add'), bearer(t.key));
          expect(res.status).toBe(404);
        }
        // The budget is 5 a second (plus what refills while the requests run).
        expect(lookups.mock.calls.length).toBeLessThan(20);
      } finally {
        lookups.mockRestore();
      }
    });

    it('knows tenants created and deleted since it started', async () => {
      const fresh = await p.admin.createTenant('fresh');
      const k = await p.admin.createKey(fresh.slug, { scopes: ['math:use'] });
      const ok = await rawPost(p, fresh.slug, toolsCall('add', { a: 2, b: 3 }), bearer(k.secret));
      expect(ok.status).toBe(200);
      await p.admin.deleteTenant(fresh.slug);
      const gone = await rawPost(p, fresh.slug, toolsCall('add'), bearer(k.secret));
      expect(gone.status).toBe(404);
    });
  });

  describe('concurrency caps per tenant and per key', () => {
    const { p, t: a } = platformWithTenant({
      MAX_INFLIGHT_PER_KEY: '0',
      MAX_INFLIGHT_PER_TENANT: '0',
    });
    let b: TenantWithKey;
    beforeAll(async () => {
      b = await p.admin.tenantWithKey(['math:use']);
      await p.admin.patchTenant(a.slug, { rateLimits: { tenantConcurrency: 2 } });
    });

    const call = JSON.stringify(toolsCall('add', { a: 1, b: 1 }));
    const hold = (t: TenantWithKey) => heldCall(p, t, call);
    /** Polls until a further call of `t` is refused with 429: the held ones hold their slots. */
    const untilRefused = (t: TenantWithKey, what: string) =>
      pollUntil(5_000, what, async () => {
        const r = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), bearer(t.key));
        return r.status === 429 ? r : undefined;
      });

    it('refuses a tenant over its cap with 429 and Retry-After while another tenant is served', async () => {
      const held = await Promise.all([hold(a), hold(a)]);
      try {
        stillHeld(...held);
        await untilRefused(a, 'both held requests holding their slots');
        const over = await rawPost(p, a.slug, toolsCall('add', { a: 1, b: 2 }), bearer(a.key));
        expect(over.status).toBe(429);
        expect(over.headers.get('retry-after')).toBe('1');
        expect(over.json).toEqual(
          expect.objectContaining({
            message: expect.stringMatching(/at most 2 at a time per tenant/),
          }),
        );
        const other = await rawPost(p, b.slug, toolsCall('add', { a: 1, b: 2 }), bearer(b.key));
        expect(other.status).toBe(200);
        expect(other.messages[0]?.result?.structuredContent).toEqual({ result: 3 });
      } finally {
        held.forEach((h) => h.release());
      }
      const answers = await Promise.all(held.map((h) => h.result));
      for (const outcome of answers) expect(outcome.res?.status).toBe(200);
      const after = await rawPost(p, a.slug, toolsCall('add', { a: 1, b: 2 }), bearer(a.key));
      expect(after.status).toBe(200);
    });

    it('caps one key while another key of the same tenant goes on', async () => {
      await p.admin.patchTenant(b.slug, { rateLimits: { keyConcurrency: 1 } });
      const second = await p.admin.createKey(b.slug, { scopes: ['math:use'] });
      const held = await hold(b);
      try {
        stillHeld(held);
        await untilRefused(b, 'the held request holding its slot');
        const over = await rawPost(p, b.slug, toolsCall('add', { a: 1, b: 2 }), bearer(b.key));
        expect(over.json).toEqual(
          expect.objectContaining({ message: expect.stringMatching(/per credential/) }),
        );
        const other = await rawPost(
          p,
          b.slug,
          toolsCall('add', { a: 1, b: 2 }),
          bearer(second.secret),
        );
        expect(other.status).toBe(200);
      } finally {
        held.release();
      }
      expect((await held.result).res?.status).toBe(200);
    });
  });

  describe('failed-authentication limits', () => {
    const { p, t } = platformWithTenant({
      AUTH_FAILURES_PER_MINUTE: '3',
      ADMIN_AUTH_FAILURES_PER_MINUTE: '2',
    });

    const badKey = 'mcp_AAAAAAAAAAAA_notavalidkeyatall0000000000000000';

    it('never counts a request without credentials', async () => {
      for (let i = 0; i < 10; i++) {
        const res = await rawPost(p, t.slug, toolsCall('add'), {});
        expect(res.status).toBe(401);
      }
      const refused = await rawPost(p, t.slug, toolsCall('add'), bearer(badKey));
      expect(refused.status).toBe(401);
    });

    it('limits refused credentials with 429, and never refuses a valid key from the same address', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await rawPost(p, t.slug, toolsCall('add'), bearer(badKey))).status);
      }
      expect(statuses).toEqual([401, 401, 429, 429]);
      const limited = await rawPost(p, t.slug, toolsCall('add'), bearer(badKey));
      expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(limited.json).toEqual(
        expect.objectContaining({
          message: expect.stringMatching(/valid credentials are not affected/),
        }),
      );
      const valid = await rawPost(p, t.slug, toolsCall('add', { a: 20, b: 22 }), bearer(t.key));
      expect(valid.status).toBe(200);
      expect(valid.messages[0]?.result?.structuredContent).toEqual({ result: 42 });
    });

    it('keeps the platform admin token working, and counts wrong admin tokens in their own bucket', async () => {
      await p.http().get('/admin/tenants').set(ADMIN).expect(200);
      const wrong = bearer('wrong-admin-token-0123456789abcdefghij');
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        statuses.push((await p.http().get('/admin/tenants').set(wrong)).status);
      }
      expect(statuses).toEqual([401, 401, 429]);
      await p.http().get('/admin/tenants').set(ADMIN).expect(200);
    });
  });

  describe('slow clients', () => {
    const { p, t } = platformWithTenant({ REQUEST_TIMEOUT: '1', HEADERS_TIMEOUT: '1' });

    it('cuts off a body that trickles in, with 408, while the client is still sending', async () => {
      const body = JSON.stringify(toolsCall('add', { a: 1, b: 1 })) + ' '.repeat(10_000);
      const held = await heldCall(p, t, body);
      // Trickle one byte every 100 ms: the whole body would take minutes.
      const trickle = setInterval(() => held.write(' '), 100);
      try {
        const outcome = await Promise.race([
          held.result,
          new Promise<'still open'>((r) => setTimeout(() => r('still open'), 20_000)),
        ]);
        expect(outcome).not.toBe('still open');
        expect(outcome).toMatchObject({ res: { status: 408 } });
      } finally {
        clearInterval(trickle);
        held.destroy();
      }
    });
  });
});
