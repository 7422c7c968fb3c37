import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { http, pollUntil, sleep } from './support/proc-net';
import {
  api,
  bearer,
  counter,
  createKey,
  createTenant,
  listToolNames,
  mcpPost,
  PlatformProcess,
  removeBuildCopies,
  spawnPlatform,
  stopAllPlatforms,
} from './support/proc-platform';
import { OwnPostgres, ownPostgres } from './support/proc-postgres';
import { RoundRobinProxy, roundRobinProxy } from './support/proc-proxy';

/** The contract: a revoked key "stops working on every replica within 1 s". */
const PROPAGATION_MS = 1_000;

/**
 * Three platform processes on one PostgreSQL server, as behind a plain load balancer. Changes
 * made through one replica (revocation, tool grants, rotation) must reach the caches of the
 * others through the change bus (Postgres LISTEN/NOTIFY here) within a second.
 */
describe('replicas: changes reach every replica', () => {
  let pg: OwnPostgres;
  let a: PlatformProcess;
  let b: PlatformProcess;
  let c: PlatformProcess;
  let proxy: RoundRobinProxy;
  const clients: Client[] = [];

  beforeAll(async () => {
    pg = await ownPostgres();
    const env = { DATABASE_URL: pg.url, MCP_STATELESS: 'true' };
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
    await stopAllPlatforms();
    await pg?.destroy();
    removeBuildCopies();
  }, 60_000);

  /** A tools/call sent straight to one replica, bypassing the proxy. */
  const callAdd = (p: PlatformProcess, slug: string, key: string) =>
    mcpPost(p.url, slug, 'tools/call', { name: 'add', arguments: { a: 1, b: 2 } }, bearer(key));

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
    const t = await createTenant(a.url, 'rr');
    const k = await createKey(a.url, t.slug, ['math:use']);
    const client = new Client({ name: 'ops-rr', version: '1.0.0' });
    clients.push(client);
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${proxy.url}/t/${t.slug}/mcp`), {
        requestInit: { headers: bearer(k.key) },
      }),
    );
    const { tools } = await client.listTools();
    expect(tools.map((x) => x.name).sort()).toEqual(['add', 'echo', 'subtract', 'whoami']);
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
        counter(p.url, 'mcp_tool_calls_total', { tenant: t.slug, tool: 'add', outcome: 'ok' }),
      ),
    );
    for (const n of perReplica) expect(n).toBeGreaterThan(0);
    expect(perReplica.reduce((x, y) => x + y, 0)).toBe(calls);
  });

  it('refuses a key revoked on A at B and C within 1 s, although they had it cached', async () => {
    const t = await createTenant(a.url, 'rev');
    const k = await createKey(a.url, t.slug, ['math:use']);
    // B and C verify the key now, so it sits in their caches (API_KEY_CACHE_TTL 30 s).
    for (const p of [a, b, c]) await expectServed(p, t.slug, k.key);

    const revoke = await api(a.url, 'POST', `/admin/tenants/${t.slug}/keys/${k.id}/revoke`);
    expect(revoke.status).toBe(200);
    const revokedAt = Date.now();
    const [atB, atC] = await Promise.all([
      refusedAfter(b, t.slug, k.key, revokedAt),
      refusedAfter(c, t.slug, k.key, revokedAt),
    ]);
    expect(atB).toBeLessThanOrEqual(PROPAGATION_MS);
    expect(atC).toBeLessThanOrEqual(PROPAGATION_MS);

    // And it stays refused everywhere, with the contract's answer.
    for (const p of [a, b, c]) {
      const res = await callAdd(p, t.slug, k.key);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toContain('resource_metadata=');
      expect(res.text).not.toContain('"result"');
    }
  });

  it('hides a tool disabled on B from tools/list on C within 1 s', async () => {
    const t = await createTenant(b.url, 'grant');
    const k = await createKey(b.url, t.slug, ['math:use']);
    // C loads (and caches) the tenant's grants: add is there.
    expect(await listToolNames(c.url, t.slug, bearer(k.key))).toContain('add');
    expect(await listToolNames(a.url, t.slug, bearer(k.key))).toContain('add');

    const put = await api(b.url, 'PUT', `/admin/tenants/${t.slug}/tools/add`, { enabled: false });
    expect(put.status).toBe(200);
    const changedAt = Date.now();
    const took = await heldAfter('C no longer listing add', changedAt, async () => {
      const names = await listToolNames(c.url, t.slug, bearer(k.key));
      return !names.includes('add');
    });
    expect(took).toBeLessThanOrEqual(PROPAGATION_MS);
    expect(await listToolNames(c.url, t.slug, bearer(k.key))).toEqual([
      'echo',
      'subtract',
      'whoami',
    ]);
    expect(await listToolNames(a.url, t.slug, bearer(k.key))).not.toContain('add');
    // Calling it on C is refused like a tool that does not exist.
    const call = await callAdd(c, t.slug, k.key);
    expect(call.status).toBe(200);
    const msg = call.messages[0];
    expect(msg?.error ?? msg?.result?.isError).toBeTruthy();
    expect(msg?.result?.structuredContent).toBeUndefined();
  });

  it('refuses the old secret on A within 1 s of a rotation with no grace on C', async () => {
    const t = await createTenant(c.url, 'rot');
    const k = await createKey(c.url, t.slug, ['math:use']);
    await expectServed(a, t.slug, k.key); // cached on A

    const rotate = await api(c.url, 'POST', `/admin/tenants/${t.slug}/keys/${k.id}/rotate`, {
      graceSeconds: 0,
    });
    expect(rotate.status).toBe(201);
    const rotatedAt = Date.now();
    const fresh = (rotate.json as { secret: string }).secret;
    expect(fresh).not.toBe(k.key);
    const took = await refusedAfter(a, t.slug, k.key, rotatedAt);
    expect(took).toBeLessThanOrEqual(PROPAGATION_MS);
    // The new secret works on every replica.
    for (const p of [a, b, c]) await expectServed(p, t.slug, fresh);
    expect((await callAdd(b, t.slug, k.key)).status).toBe(401);
  });

  it('still refuses a revoked key everywhere within 1 s right after a database restart', async () => {
    const t = await createTenant(a.url, 'restart');
    const k = await createKey(a.url, t.slug, ['math:use']);
    // Long enough for the replicas' LISTEN connections to back off between reconnection attempts.
    await pg.stop();
    await sleep(9_000);
    await pg.start();
    for (const p of [a, b, c]) {
      await pollUntil(15_000, `${p.name} ready again`, async () =>
        (await http(p.url, { path: '/readyz' })).status === 200 ? true : undefined,
      );
    }
    // The key works again everywhere, and B and C have it cached.
    for (const p of [a, b, c]) {
      await pollUntil(10_000, `${p.name} serving the key again`, async () =>
        (await callAdd(p, t.slug, k.key)).status === 200 ? true : undefined,
      );
    }

    const revoke = await api(a.url, 'POST', `/admin/tenants/${t.slug}/keys/${k.id}/revoke`);
    expect(revoke.status).toBe(200);
    const revokedAt = Date.now();
    // Waits longer than the contract allows, to report how long it really took.
    const [atB, atC] = await Promise.all([
      refusedAfter(b, t.slug, k.key, revokedAt, 20_000),
      refusedAfter(c, t.slug, k.key, revokedAt, 20_000),
    ]);
    expect({ atB: atB <= PROPAGATION_MS, atC: atC <= PROPAGATION_MS, ms: [atB, atC] }).toEqual({
      atB: true,
      atC: true,
      ms: [atB, atC],
    });
  }, 90_000);

  it('keeps every replica ready and alive throughout', async () => {
    for (const p of [a, b, c]) {
      await pollUntil(15_000, `${p.name} ready`, async () =>
        (await http(p.url, { path: '/readyz' })).status === 200 ? true : undefined,
      );
      expect(p.child.exitCode).toBeNull();
    }
  });
});
