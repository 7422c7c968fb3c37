import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { bearer } from './support/admin';
import { pollUntil, sleep } from './support/http';
import { builtInAmong, builtInToolsFor, connect, listToolNames, rawCall } from './support/mcp';
import { metricNow } from './support/metrics';
import { openListen } from './support/mcp-modern';
import { PlatformProcess, spawnPlatform, untilReady, useProcesses } from './support/processes';
import { RoundRobinProxy, roundRobinProxy } from './support/proxy';
import { startUpstreamMcp } from './support/upstream-mcp';

/** The contract: a revoked key "stops working on every replica within 1 s". */
const PROPAGATION_MS = 1_000;

/**
 * Three platform processes on one PostgreSQL server, as behind a plain load balancer. Changes
 * made through one replica (revocation, tool grants, rotation) must reach the caches of the
 * others through the change bus (Postgres LISTEN/NOTIFY here) within a second.
 */
describe('replicas: changes reach every replica', () => {
  const ops = useProcesses();
  let a: PlatformProcess;
  let b: PlatformProcess;
  let c: PlatformProcess;
  let proxy: RoundRobinProxy;
  const clients: Client[] = [];

  beforeAll(async () => {
    const env = { DATABASE_URL: ops.pg.url, MCP_STATELESS: 'true' };
    // Started together: the migrations run under an advisory lock, once.
    [a, b, c] = await Promise.all([
      spawnPlatform(env, { name: 'replica-a', waitForReady: true }),
      spawnPlatform(env, { name: 'replica-b', waitForReady: true }),
      spawnPlatform(env, { name: 'replica-c', waitForReady: true }),
    ]);
    proxy = await roundRobinProxy([a.url, b.url, c.url]);
  }, 240_000);

  afterAll(async () => {
    await Promise.all(clients.map((x) => x.close().catch(() => undefined)));
    await proxy?.close();
  });

  /** A tools/call sent straight to one replica, bypassing the proxy. */
  const callAdd = (p: PlatformProcess, slug: string, key: string) =>
    rawCall(p, slug, 'add', { a: 1, b: 2 }, bearer(key));
  /** A tenant of replica `p`, with a math:use key. */
  const tenantOn = async (p: PlatformProcess, prefix: string) => {
    const { slug } = await p.admin.createTenant(prefix);
    const { id, secret: key } = await p.admin.createKey(slug, { scopes: ['math:use'] });
    return { slug, id, key };
  };

  const expectServed = async (p: PlatformProcess, slug: string, key: string) => {
    const res = await callAdd(p, slug, key);
    if (res.status !== 200) {
      throw new Error(`${p.name} answered ${res.status}: ${res.text.slice(0, 300)}`);
    }
    expect(res.messages[0]?.result?.structuredContent).toEqual({ result: 3 });
  };

  /**
   * Polls until `check` holds; returns how long after `since` the first request that saw it was
   * sent (the request's own latency is not propagation delay).
   */
  const heldAfter = async (
    what: string,
    since: number,
    check: () => Promise<boolean>,
    waitMs = PROPAGATION_MS + 500,
  ) =>
    pollUntil(waitMs, what, async () => {
      const sent = Date.now();
      return (await check()) ? sent - since : undefined;
    });

  const refusedAfter = (
    p: PlatformProcess,
    slug: string,
    key: string,
    since: number,
    waitMs?: number,
  ) =>
    heldAfter(
      `${p.name} refusing the key`,
      since,
      async () => {
        const res = await callAdd(p, slug, key);
        return res.status === 401;
      },
      waitMs,
    );

  it('serves one SDK client through a round-robin proxy from all three replicas', async () => {
    const t = await tenantOn(a, 'rr');
    const client = await connect(proxy, t.slug, bearer(t.key));
    clients.push(client);
    const { tools } = await client.listTools();
    expect(builtInAmong(tools.map((x) => x.name))).toEqual(builtInToolsFor(['math:use']));
    const calls = 15;
    for (let i = 0; i < calls; i++) {
      const res = await client.callTool({ name: 'add', arguments: { a: i, b: 100 } });
      expect(res.isError).toBeFalsy();
      expect(res.structuredContent).toEqual({ result: i + 100 });
    }
    // Every replica took part, by the proxy's count and by its own metrics.
    expect(proxy.counts.every((n) => n > 0)).toBe(true);
    const perReplica = await Promise.all(
      [a, b, c].map((p) =>
        metricNow(p, 'mcp_tool_calls_total', { tenant: t.slug, tool: 'add', outcome: 'ok' }),
      ),
    );
    for (const n of perReplica) expect(n).toBeGreaterThan(0);
    expect(perReplica.reduce((x, y) => x + y, 0)).toBe(calls);
  });

  it('refuses a key revoked on A at B and C within 1 s, although they had it cached', async () => {
    const k = await tenantOn(a, 'rev');
    // B and C verify the key now, so it sits in their caches (API_KEY_CACHE_TTL 30 s).
    for (const p of [a, b, c]) await expectServed(p, k.slug, k.key);

    await a.admin.revokeKey(k.slug, k.id);
    const revokedAt = Date.now();
    const [atB, atC] = await Promise.all([
      refusedAfter(b, k.slug, k.key, revokedAt),
      refusedAfter(c, k.slug, k.key, revokedAt),
    ]);
    expect(atB).toBeLessThanOrEqual(PROPAGATION_MS);
    expect(atC).toBeLessThanOrEqual(PROPAGATION_MS);

    // And it stays refused everywhere, with the contract's answer.
    for (const p of [a, b, c]) {
      const res = await callAdd(p, k.slug, k.key);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('resource_metadata=');
      expect(res.text).not.toContain('"result"');
    }
  });

  it('hides a tool disabled on B from tools/list on C within 1 s', async () => {
    const k = await tenantOn(b, 'grant');
    const listed = (p: PlatformProcess) => listToolNames(p, k.slug, bearer(k.key));
    // C loads (and caches) the tenant's grants: add is there.
    expect(await listed(c)).toContain('add');
    expect(await listed(a)).toContain('add');

    await b.admin.setTool(k.slug, 'add', false);
    const changedAt = Date.now();
    const took = await heldAfter('C no longer listing add', changedAt, async () => {
      return !(await listed(c)).includes('add');
    });
    expect(took).toBeLessThanOrEqual(PROPAGATION_MS);
    expect(builtInAmong(await listed(c))).toEqual(
      builtInToolsFor(['math:use']).filter((n) => n !== 'add'),
    );
    expect(await listed(a)).not.toContain('add');
    // Calling it on C is refused like a tool that does not exist.
    const call = await callAdd(c, k.slug, k.key);
    expect(call.status).toBe(200);
    const msg = call.messages[0];
    expect(msg?.error ?? msg?.result?.isError).toBeTruthy();
    expect(msg?.result?.structuredContent).toBeUndefined();
  });

  it('tells a 2026-07-28 listen stream open on C of a tool disabled on B, and no other tenant', async () => {
    const k = await tenantOn(b, 'listen');
    const other = await tenantOn(b, 'listen-other');
    const stream = await openListen(c, k.slug, bearer(k.key));
    const quiet = await openListen(a, other.slug, bearer(other.key));
    try {
      await pollUntil(5_000, 'both acknowledgements', () =>
        Promise.resolve(stream.messages[0] && quiet.messages[0] ? true : undefined),
      );
      await b.admin.setTool(k.slug, 'add', false);
      const changedAt = Date.now();
      await pollUntil(5_000, 'list_changed on C', () =>
        Promise.resolve(
          stream.messages.find((m) => m.method === 'notifications/tools/list_changed'),
        ),
      );
      expect(Date.now() - changedAt).toBeLessThanOrEqual(PROPAGATION_MS);
      await sleep(200);
      expect(quiet.messages.map((m) => m.method)).toEqual([
        'notifications/subscriptions/acknowledged',
      ]);
    } finally {
      stream.close();
      quiet.close();
    }
  });

  it('shows a tool source registered on A on C within 1 s, tells a listen stream on B, calls it from C', async () => {
    const upstream = await startUpstreamMcp('stateless-2025');
    try {
      const k = await tenantOn(a, 'source');
      const listed = (p: PlatformProcess) => listToolNames(p, k.slug, bearer(k.key));
      expect(await listed(c)).not.toContain('up_echo');
      const stream = await openListen(b, k.slug, bearer(k.key));
      try {
        await pollUntil(5_000, 'acknowledgement', () => Promise.resolve(stream.messages[0]));
        const created = await a.admin.request('POST', `/admin/tenants/${k.slug}/sources`, {
          name: 'up',
          kind: 'mcp',
          url: upstream.url,
        });
        expect(created.status).toBe(201);
        const changedAt = Date.now();
        const took = await heldAfter('C listing up_echo', changedAt, async () =>
          (await listed(c)).includes('up_echo'),
        );
        expect(took).toBeLessThanOrEqual(PROPAGATION_MS);
        await pollUntil(5_000, 'list_changed on B', () =>
          Promise.resolve(
            stream.messages.find((m) => m.method === 'notifications/tools/list_changed'),
          ),
        );
      } finally {
        stream.close();
      }
      const call = await rawCall(c, k.slug, 'up_echo', { text: 'from c' }, bearer(k.key));
      expect(call.messages[0]?.result?.content).toEqual([{ type: 'text', text: 'echo: from c' }]);
      expect(upstream.calls.map((x) => x.tool)).toEqual(['echo']);
    } finally {
      await upstream.stop();
    }
  });

  it('refuses the old secret on A within 1 s of a rotation with no grace on C', async () => {
    const k = await tenantOn(c, 'rot');
    await expectServed(a, k.slug, k.key); // cached on A

    const { secret: fresh } = await c.admin.rotateKey(k.slug, k.id, { graceSeconds: 0 });
    const rotatedAt = Date.now();
    expect(fresh).not.toBe(k.key);
    const took = await refusedAfter(a, k.slug, k.key, rotatedAt);
    expect(took).toBeLessThanOrEqual(PROPAGATION_MS);
    // The new secret works on every replica.
    for (const p of [a, b, c]) await expectServed(p, k.slug, fresh);
    expect((await callAdd(b, k.slug, k.key)).status).toBe(401);
  });

  it('still refuses a revoked key everywhere within 1 s right after a database restart', async () => {
    const k = await tenantOn(a, 'restart');
    // Long enough for the replicas' LISTEN connections to back off between reconnection attempts.
    await ops.pg.stop();
    await sleep(9_000);
    await ops.pg.start();
    for (const p of [a, b, c]) await untilReady(p, 15_000, 25);
    // The key works again everywhere, and B and C have it cached.
    for (const p of [a, b, c]) {
      await pollUntil(10_000, `${p.name} serving the key again`, async () =>
        (await callAdd(p, k.slug, k.key)).status === 200 ? true : undefined,
      );
    }

    await a.admin.revokeKey(k.slug, k.id);
    const revokedAt = Date.now();
    // Waits longer than the contract allows, to report how long it really took.
    const [atB, atC] = await Promise.all([
      refusedAfter(b, k.slug, k.key, revokedAt, 20_000),
      refusedAfter(c, k.slug, k.key, revokedAt, 20_000),
    ]);
    expect({ atB: atB <= PROPAGATION_MS, atC: atC <= PROPAGATION_MS, ms: [atB, atC] }).toEqual({
      atB: true,
      atC: true,
      ms: [atB, atC],
    });
  }, 90_000);

  it('keeps every replica ready and alive throughout', async () => {
    for (const p of [a, b, c]) {
      await untilReady(p, 15_000, 25);
      expect(p.child.exitCode).toBeNull();
    }
  });
});
