import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { waitForAudit } from './support/audit';
import { adminClient, bearer } from './support/admin';
import { pollUntil, sleep } from './support/http';
import { rawCall, rawInitialize } from './support/mcp';
import { openModernClient } from './support/mcp-modern';
import { usePlatform } from './support/platform';
import { startUpstreamMcp, type UpstreamKind, type UpstreamMcp } from './support/upstream-mcp';

type CallResult = {
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
};

const secret = () => `upstream-secret-${randomBytes(8).toString('hex')}`;
const textOf = (r: unknown) => (r as CallResult).content.map((c) => c.text ?? '').join('');
const names = async (c: { listTools(): Promise<{ tools: { name: string }[] }> }) =>
  (await c.listTools()).tools.map((t) => t.name).sort();
const sourced = (all: string[], prefix: string) => all.filter((n) => n.startsWith(`${prefix}_`));

describe('tool sources: upstream MCP servers', () => {
  const p = usePlatform({ SOURCE_TIMEOUT: '2', SOURCE_BREAKER_OPEN: '1' });
  const admin = () => adminClient(p);
  const upstreams: UpstreamMcp[] = [];
  const modern: Awaited<ReturnType<typeof openModernClient>>[] = [];
  const up = async (kind: UpstreamKind, opts?: Parameters<typeof startUpstreamMcp>[1]) => {
    const u = await startUpstreamMcp(kind, opts);
    upstreams.push(u);
    return u;
  };
  afterAll(async () => {
    await Promise.all(modern.map((c) => c.close().catch(() => undefined)));
    await Promise.all(upstreams.map((u) => u.stop().catch(() => undefined)));
  });

  const addSource = async (slug: string, body: Record<string, unknown>) => {
    const res = await admin().request('POST', `/admin/tenants/${slug}/sources`, body);
    if (res.status !== 201) throw new Error(`create source: ${res.status} ${res.text}`);
    return res.json as {
      id: string;
      tools: { name: string; upstreamName: string; requiredScopes: string[] }[];
      health: Record<string, unknown>;
    };
  };
  const keyOf = async (slug: string, body: Record<string, unknown>) =>
    (await admin().createKey(slug, body)).secret;

  describe('a 2025 upstream with a session and an injected header', () => {
    let upstream: UpstreamMcp;
    let slug: string;
    const upstreamKey = secret();
    let sourceId: string;

    beforeAll(async () => {
      upstream = await up('stateful-2025', {
        requireHeader: { name: 'X-Upstream-Key', value: upstreamKey },
      });
      slug = (await admin().createTenant('src')).slug;
      const source = await addSource(slug, {
        name: 'up',
        kind: 'mcp',
        url: upstream.url,
        headers: { 'X-Upstream-Key': upstreamKey },
        scopes: ['up:use'],
        toolScopes: { add: ['up:math'] },
      });
      sourceId = source.id;
    });

    it('lists the upstream tools under the prefix with the scopes set by the tenant admin', async () => {
      const res = await admin().request('GET', `/admin/tenants/${slug}/sources/${sourceId}`);

      expect(res.status).toBe(200);
      const body = res.json as {
        tools: { name: string; upstreamName: string; requiredScopes: string[] }[];
        mcp: unknown;
      };
      expect(body.tools.map((t) => [t.name, t.upstreamName, t.requiredScopes])).toEqual(
        expect.arrayContaining([
          ['up_echo', 'echo', ['up:use']],
          ['up_add', 'add', ['up:math']],
          ['up_fail', 'fail', ['up:use']],
        ]),
      );
      expect(body.mcp).toEqual({
        url: upstream.url,
        transport: 'auto',
        headers: ['X-Upstream-Key'],
      });
      expect(res.text).not.toContain(upstreamKey);
      const catalog = await admin().request('GET', `/admin/tenants/${slug}/tools`);
      expect((catalog.json as { items: { name: string; source: string | null }[] }).items).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'up_echo', source: 'up' }),
          expect.objectContaining({ name: 'whoami', source: null }),
        ]),
      );
    });

    it('a key lists exactly the source tools its scopes allow and calls them from a 2025 client', async () => {
      const key = await keyOf(slug, { scopes: ['up:use'] });
      const client = await p.connect(slug, bearer(key));

      const listed = sourced(await names(client), 'up');
      expect(listed).toEqual(['up_echo', 'up_fail', 'up_headers', 'up_slow']);
      const echoed = await client.callTool({ name: 'up_echo', arguments: { text: 'hi' } });
      expect(textOf(echoed)).toBe('echo: hi');
      // The upstream got the source's own header, never the caller's credential.
      const call = upstream.calls.at(-1)!;
      expect(call.tool).toBe('echo');
      expect(call.headers['x-upstream-key']).toBe(upstreamKey);
      expect(JSON.stringify(call.headers)).not.toContain(key);
    });

    it('a scope shortfall on a source tool is a 403 step-up challenge, like a built-in tool', async () => {
      const key = await keyOf(slug, { scopes: ['up:use'] });
      const res = await rawCall(p, slug, 'up_add', { a: 1, b: 2 }, bearer(key));

      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toMatch(/insufficient_scope.*scope="up:math"/);
    });

    it('structured answers come through, and the caller’s mistakes are tool errors', async () => {
      const client = await p.connect(
        slug,
        bearer(await keyOf(slug, { scopes: ['up:use', 'up:math'] })),
      );

      const sum = (await client.callTool({
        name: 'up_add',
        arguments: { a: 2, b: 3 },
      })) as CallResult;
      expect(sum.structuredContent).toEqual({ sum: 5 });
      const bad = (await client.callTool({ name: 'up_add', arguments: { a: 'x' } })) as CallResult;
      expect(bad.isError).toBe(true);
      expect(textOf(bad)).toMatch(/invalid arguments for up_add/);
      const failed = (await client.callTool({ name: 'up_fail', arguments: {} })) as CallResult;
      expect(failed.isError).toBe(true);
      expect(textOf(failed)).toBe('upstream failure');
    });

    it('an allow-list naming one source tool shows only that one', async () => {
      const key = await keyOf(slug, { scopes: ['up:use', 'up:math'], tools: ['up_add', 'whoami'] });
      const client = await p.connect(slug, bearer(key));

      expect(await names(client)).toEqual(['up_add', 'whoami']);
      const session = await rawInitialize(p, slug, bearer(key));
      const refused = await rawCall(p, slug, 'up_echo', { text: 'x' }, session.headers);
      expect(refused.status).toBe(200);
      expect(refused.text).toMatch(/unknown tool|not found/i);
    });

    it('keeps working when the upstream restarts and forgets the session', async () => {
      const client = await p.connect(slug, bearer(await keyOf(slug, { scopes: ['up:use'] })));
      await client.callTool({ name: 'up_echo', arguments: { text: 'before' } });

      await upstream.restart();
      const after = await client.callTool({ name: 'up_echo', arguments: { text: 'after' } });

      expect(textOf(after)).toBe('echo: after');
    });

    it('audits a source tool call under its catalog name, with the source', async () => {
      const key = await admin().createKey(slug, { scopes: ['up:use'] });
      const client = await p.connect(slug, bearer(key.secret));
      await client.callTool({ name: 'up_echo', arguments: { text: 'audited' } });

      const [event] = await waitForAudit(
        p,
        slug,
        (e) => e.tool === 'up_echo' && e.keyId === key.id,
      );
      expect(event).toMatchObject({ action: 'tool.call', outcome: 'ok', detail: { source: 'up' } });
    });
  });

  it('serves a 2026-07-28 upstream to a 2026 client and a 2025 client', async () => {
    const upstream = await up('modern-2026');
    const { slug } = await admin().createTenant('src');
    await addSource(slug, { name: 'modern', kind: 'mcp', url: upstream.url });
    const key = await keyOf(slug, {});

    const v2 = await openModernClient(p, slug, bearer(key));
    modern.push(v2);
    expect(sourced(await names(v2), 'modern')).toEqual([
      'modern_add',
      'modern_echo',
      'modern_fail',
      'modern_headers',
      'modern_slow',
    ]);
    expect(textOf(await v2.callTool({ name: 'modern_echo', arguments: { text: 'new' } }))).toBe(
      'echo: new',
    );
    const v1 = await p.connect(slug, bearer(key));
    expect(textOf(await v1.callTool({ name: 'modern_echo', arguments: { text: 'old' } }))).toBe(
      'echo: old',
    );
    // The platform spoke the newest era to it: no 2025 handshake.
    const methods = upstream.requests.map((r) => r.method);
    expect(methods).toContain('server/discover');
    expect(methods).not.toContain('initialize');
  });

  it('falls back to a legacy HTTP+SSE upstream', async () => {
    const upstream = await up('sse');
    const { slug } = await admin().createTenant('src');
    await addSource(slug, { name: 'legacy', kind: 'mcp', url: upstream.url });
    const client = await p.connect(slug, bearer(await keyOf(slug, {})));

    expect(textOf(await client.callTool({ name: 'legacy_echo', arguments: { text: 'sse' } }))).toBe(
      'echo: sse',
    );
  });

  it('tells open sessions when a refresh brings new tools, and shows them', async () => {
    const upstream = await up('stateless-2025');
    const { slug } = await admin().createTenant('src');
    const source = await addSource(slug, { name: 'grow', kind: 'mcp', url: upstream.url });
    const client = await p.connect(slug, bearer(await keyOf(slug, {})));
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed++;
    });
    expect(await names(client)).not.toContain('grow_late');

    upstream.addTool('late', 'a tool added later');
    const res = await admin().request(
      'POST',
      `/admin/tenants/${slug}/sources/${source.id}/refresh`,
    );

    expect(res.status).toBe(200);
    expect((res.json as { tools: { name: string }[] }).tools.map((t) => t.name)).toContain(
      'grow_late',
    );
    await pollUntil(5_000, 'tools/list_changed', () =>
      Promise.resolve(changed > 0 ? true : undefined),
    );
    expect(await names(client)).toContain('grow_late');
    expect(textOf(await client.callTool({ name: 'grow_late', arguments: { text: 'x' } }))).toBe(
      'late: x',
    );
  });

  it('a disabled source’s tools leave the catalog; deleting the source removes them and their switches', async () => {
    const upstream = await up('stateless-2025');
    const { slug } = await admin().createTenant('src');
    const source = await addSource(slug, { name: 'gone', kind: 'mcp', url: upstream.url });
    const client = await p.connect(slug, bearer(await keyOf(slug, {})));
    expect(sourced(await names(client), 'gone')).toHaveLength(5);

    const off = await admin().request('PATCH', `/admin/tenants/${slug}/sources/${source.id}`, {
      enabled: false,
    });
    expect(off.status).toBe(200);
    expect(sourced(await names(client), 'gone')).toEqual([]);
    await admin().request('PATCH', `/admin/tenants/${slug}/sources/${source.id}`, {
      enabled: true,
    });
    expect(sourced(await names(client), 'gone')).toHaveLength(5);
    await admin().setTool(slug, 'gone_echo', false);
    expect(sourced(await names(client), 'gone')).not.toContain('gone_echo');
    const del = await admin().request('DELETE', `/admin/tenants/${slug}/sources/${source.id}`);
    expect(del.status).toBe(204);
    expect(sourced(await names(client), 'gone')).toEqual([]);
    // A new source under the same prefix starts with every tool on: the old switches went with it.
    await addSource(slug, { name: 'gone', kind: 'mcp', url: upstream.url });
    expect(sourced(await names(client), 'gone')).toContain('gone_echo');
    expect(
      (await admin().request('GET', `/admin/tenants/${slug}/sources/${source.id}`)).status,
    ).toBe(404);
  });

  it('a revoked key fails its next call inside an open session', async () => {
    const upstream = await up('stateless-2025');
    const { slug } = await admin().createTenant('src');
    await addSource(slug, { name: 'rv', kind: 'mcp', url: upstream.url });
    const key = await admin().createKey(slug, {});
    const session = await rawInitialize(p, slug, bearer(key.secret));
    const ok = await rawCall(p, slug, 'rv_echo', { text: 'a' }, session.headers);
    expect(ok.status).toBe(200);

    await admin().revokeKey(slug, key.id);
    const refused = await rawCall(p, slug, 'rv_echo', { text: 'b' }, session.headers);

    expect(refused.status).toBe(401);
    expect(upstream.calls.filter((c) => c.tool === 'echo')).toHaveLength(1);
  });

  it('keeps tenants apart: another tenant neither sees nor reaches a source', async () => {
    const upstream = await up('stateless-2025');
    const a = await admin().createTenant('src');
    const b = await admin().createTenant('src');
    const source = await addSource(a.slug, { name: 'mine', kind: 'mcp', url: upstream.url });
    const bKey = await keyOf(b.slug, {});

    const client = await p.connect(b.slug, bearer(bKey));
    expect(sourced(await names(client), 'mine')).toEqual([]);
    const session = await rawInitialize(p, b.slug, bearer(bKey));
    const call = await rawCall(p, b.slug, 'mine_echo', { text: 'x' }, session.headers);
    expect(call.text).toMatch(/unknown tool|not found/i);
    expect(
      (await admin().request('GET', `/admin/tenants/${b.slug}/sources/${source.id}`)).status,
    ).toBe(404);
    expect(
      (await admin().request('DELETE', `/admin/tenants/${b.slug}/sources/${source.id}`)).status,
    ).toBe(404);
    expect(
      (
        (await admin().request('GET', `/admin/tenants/${b.slug}/sources`)).json as {
          items: unknown[];
        }
      ).items,
    ).toEqual([]);
    expect(upstream.calls).toHaveLength(0);
  });

  it('a slow upstream times out as a tool error and does not hold up another tenant’s source', async () => {
    const slow = await up('stateless-2025');
    const fast = await up('stateless-2025');
    const a = await admin().createTenant('src');
    const b = await admin().createTenant('src');
    await addSource(a.slug, { name: 'slow', kind: 'mcp', url: slow.url });
    await addSource(b.slug, { name: 'fast', kind: 'mcp', url: fast.url });
    const aClient = await p.connect(a.slug, bearer(await keyOf(a.slug, {})));
    const bClient = await p.connect(b.slug, bearer(await keyOf(b.slug, {})));
    slow.setDelay(10_000);

    const order: string[] = [];
    const stuck = Promise.all(
      [1, 2, 3].map(async (i) => {
        const r = await aClient.callTool({ name: 'slow_echo', arguments: { text: `${i}` } });
        order.push('slow');
        return r;
      }),
    );
    await sleep(100);
    const other = await bClient.callTool({ name: 'fast_echo', arguments: { text: 'quick' } });
    order.push('fast');
    const timedOut = await stuck;

    expect(textOf(other)).toBe('echo: quick');
    expect(order[0]).toBe('fast');
    for (const r of timedOut) {
      expect((r as CallResult).isError).toBe(true);
      expect(textOf(r)).toMatch(/slow_echo \(source slow\) failed: no answer within 2 s/);
    }
  });

  it('an upstream that is down: tool errors, the breaker opens, and closes once it is back', async () => {
    const upstream = await up('stateless-2025');
    const { slug } = await admin().createTenant('src');
    const source = await addSource(slug, { name: 'flaky', kind: 'mcp', url: upstream.url });
    const client = await p.connect(slug, bearer(await keyOf(slug, {})));
    const echo = (text: string) => client.callTool({ name: 'flaky_echo', arguments: { text } });
    await upstream.stop();

    for (let i = 0; i < 5; i++) {
      const r = (await echo('x')) as CallResult;
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/flaky_echo \(source flaky\) failed: .*(refused|connect)/);
    }
    const paused = (await echo('x')) as CallResult;
    expect(textOf(paused)).toMatch(/calls are paused for 1 s after 5 failures/);
    const view = await admin().request('GET', `/admin/tenants/${slug}/sources/${source.id}`);
    expect((view.json as { health: Record<string, unknown> }).health).toMatchObject({
      breaker: 'open',
      lastError: expect.stringMatching(/refused|connect/),
    });

    await upstream.restart();
    await sleep(1_100);
    expect(textOf(await echo('back'))).toBe('echo: back');
    const healed = await admin().request('GET', `/admin/tenants/${slug}/sources/${source.id}`);
    expect((healed.json as { health: Record<string, unknown> }).health).toMatchObject({
      breaker: 'closed',
    });
  });

  it('never writes a source’s secrets to the log, an admin answer or an audit event', async () => {
    const value = secret();
    const upstream = await up('stateless-2025', {
      requireHeader: { name: 'Authorization', value: `Bearer ${value}` },
    });
    const { slug } = await admin().createTenant('src');
    const created = await admin().request('POST', `/admin/tenants/${slug}/sources`, {
      name: 'secretive',
      kind: 'mcp',
      url: upstream.url,
      headers: { Authorization: `Bearer ${value}` },
    });
    expect(created.status).toBe(201);
    const client = await p.connect(slug, bearer(await keyOf(slug, {})));
    await client.callTool({ name: 'secretive_echo', arguments: { text: 'x' } });
    const id = (created.json as { id: string }).id;
    await admin().request('PATCH', `/admin/tenants/${slug}/sources/${id}`, {
      headers: { Authorization: `Bearer ${value}`, 'X-More': value },
    });
    await waitForAudit(p, slug, (e) => e.action === 'source.update');

    const answers = [
      created.text,
      (await admin().request('GET', `/admin/tenants/${slug}/sources`)).text,
      (await admin().request('GET', `/admin/tenants/${slug}/sources/${id}`)).text,
      (await admin().request('GET', `/admin/tenants/${slug}/audit?limit=200`)).text,
    ];
    for (const text of answers) expect(text).not.toContain(value);
    if (p.config.logFile) {
      await sleep(200);
      expect(await readFile(p.config.logFile, 'utf8')).not.toContain(value);
    }
  });

  it('refuses what it cannot use, saying why, and saves nothing', async () => {
    const upstream = await up('stateless-2025');
    const { slug } = await admin().createTenant('src');
    const post = (body: Record<string, unknown>) =>
      admin().request('POST', `/admin/tenants/${slug}/sources`, body);

    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ name: 'x', kind: 'ftp', url: upstream.url }, 400, /kind must be "mcp".*or "openapi"/],
      [{ name: 'Bad_Name', kind: 'mcp', url: upstream.url }, 400, /name must be 1-32 lowercase/],
      [
        { name: 'x', kind: 'mcp', url: 'ftp://example.com/' },
        400,
        /url must be an http or https URL/,
      ],
      [
        { name: 'x', kind: 'mcp', url: upstream.url, headers: { Host: 'a' } },
        400,
        /headers\.Host.*cannot be injected/,
      ],
      [
        { name: 'x', kind: 'mcp', url: upstream.url, toolScopes: { nope: ['a:b'] } },
        400,
        /toolScopes: unknown tool nope/,
      ],
      [{ name: 'x', kind: 'mcp', url: upstream.url, extra: 1 }, 400, /extra/],
      [
        { name: 'notes', kind: 'mcp', url: upstream.url },
        409,
        /prefix "notes" would mix with the built-in tools/,
      ],
      [
        { name: 'x', kind: 'mcp', url: 'http://127.0.0.1:9/mcp' },
        502,
        /could not connect to http:\/\/127\.0\.0\.1:9\/mcp.*nothing was saved/,
      ],
    ];
    for (const [body, status, message] of cases) {
      const res = await post(body);
      const said = (res.json as { message?: string }).message;
      expect([res.status, said]).toEqual([status, expect.stringMatching(message)]);
    }
    await addSource(slug, { name: 'dup', kind: 'mcp', url: upstream.url });
    const dupName = await post({ name: 'dup', kind: 'mcp', url: upstream.url, prefix: 'other' });
    expect([dupName.status, (dupName.json as { message: string }).message]).toEqual([
      409,
      expect.stringMatching(/named "dup" exists already/),
    ]);
    const dupPrefix = await post({ name: 'other', kind: 'mcp', url: upstream.url, prefix: 'dup' });
    expect([dupPrefix.status, (dupPrefix.json as { message: string }).message]).toEqual([
      409,
      expect.stringMatching(/uses the prefix "dup"/),
    ]);
    const list = await admin().request('GET', `/admin/tenants/${slug}/sources`);
    expect((list.json as { items: { name: string }[] }).items.map((s) => s.name)).toEqual(['dup']);
    expect((await admin().request('GET', `/admin/tenants/${slug}/sources/not-a-uuid`)).status).toBe(
      404,
    );
  });

  it('a tenant admin key manages its own tenant’s sources and no other', async () => {
    const upstream = await up('stateless-2025');
    const mine = await admin().createTenant('src');
    const other = await admin().createTenant('src');
    const tenantAdmin = bearer(await keyOf(mine.slug, { scopes: ['tenant:admin'] }));
    const body = { name: 'own', kind: 'mcp', url: upstream.url };

    expect(
      (await admin().request('POST', `/admin/tenants/${mine.slug}/sources`, body, tenantAdmin))
        .status,
    ).toBe(201);
    expect(
      (await admin().request('POST', `/admin/tenants/${other.slug}/sources`, body, tenantAdmin))
        .status,
    ).toBe(403);
    expect(
      (await admin().request('GET', `/admin/tenants/${mine.slug}/sources`, undefined, {})).status,
    ).toBe(401);
  });

  it('rate limits apply to source tools like to any other', async () => {
    const upstream = await up('stateless-2025');
    const { slug } = await admin().createTenant('src');
    await addSource(slug, { name: 'rl', kind: 'mcp', url: upstream.url });
    const key = await keyOf(slug, { rateLimitPerMinute: 4 });
    const session = await rawInitialize(p, slug, bearer(key));

    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await rawCall(p, slug, 'rl_echo', { text: `${i}` }, session.headers)).status);

    // initialize and notifications/initialized were the first two of the four.
    expect(statuses).toEqual([200, 200, 429]);
  });
});
