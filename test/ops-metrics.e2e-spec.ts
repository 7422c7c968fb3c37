import { randomBytes } from 'node:crypto';
import { formatApiKey, parseApiKey } from '@app/tenancy';
import { pollUntil, rejectionOf } from './support/http';
import { bearer, initializeRequest, rawPost, toolsCall } from './support/mcp';
import { metricNow, metricValue, parseMetrics, samples, scrape } from './support/metrics';
import { ADMIN, ADMIN_TOKEN, usePlatform } from './support/platform';

const API_KEY_SHAPE = /mcp_[0-9A-Za-z]{12}_[0-9A-Za-z]{6,}/;
const METRICS_TOKEN = 'metrics-token-ops-0123456789abcdef';
const hex = (n: number) => randomBytes(n).toString('hex');
/** POSTs to an MCP endpoint answered with `status`, by the scrape `text`. */
const mcpPosts = (text: string, status: string) =>
  metricValue(text, 'http_requests_total', { method: 'POST', route: '/t/:tenant/mcp', status });

describe('metrics (ops)', () => {
  const p = usePlatform();
  /** Every credential used against this app: none may show up in /metrics. */
  const secrets: string[] = [ADMIN_TOKEN];
  const slugs: string[] = [];

  const tenant = async (scopes: string[], tools?: string[]) => {
    const t = await p.admin.tenantWithKey(scopes, tools);
    secrets.push(t.key);
    slugs.push(t.slug);
    return t;
  };
  /** Another key of `slug` with `body`, its secret remembered. */
  const key = async (slug: string, body: Record<string, unknown>) => {
    const k = await p.admin.createKey(slug, body);
    secrets.push(k.secret);
    return k;
  };
  const client = (slug: string, secret: string) => p.openMcp(slug, bearer(secret));

  it('serves Prometheus text with the platform’s metric families, without credentials', async () => {
    await p.http().get('/healthz').expect(200);
    await p.http().get('/admin/tenants').set(ADMIN).expect(200);
    const res = await p.http().get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;/);
    expect(res.headers['content-type']).toContain('version=0.0.4');
    const text = res.text;
    for (const [name, type] of [
      ['http_requests_total', 'counter'],
      ['http_request_duration_seconds', 'histogram'],
      ['mcp_tool_calls_total', 'counter'],
      ['mcp_tool_duration_seconds', 'histogram'],
      ['auth_failures_total', 'counter'],
      ['rate_limited_total', 'counter'],
      ['mcp_open_sessions', 'gauge'],
      ['audit_queue_depth', 'gauge'],
      ['audit_events_dropped_total', 'counter'],
      ['db_pool_connections', 'gauge'],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
    }
    // Every line parses, and the unlabelled gauges have values.
    expect(parseMetrics(text).length).toBeGreaterThan(20);
    expect(samples(text, 'audit_queue_depth')).toHaveLength(1);
    expect(metricValue(text, 'audit_queue_depth')).toBeGreaterThanOrEqual(0);
    expect(samples(text, 'audit_events_dropped_total')).toHaveLength(1);
    expect(metricValue(text, 'audit_events_dropped_total')).toBe(0);
    expect(samples(text, 'db_pool_connections')).toHaveLength(1);
    expect(metricValue(text, 'db_pool_connections')).toBeGreaterThanOrEqual(1);
    expect(samples(text, 'mcp_open_sessions')).toHaveLength(1);
    expect(
      metricValue(text, 'http_requests_total', {
        method: 'GET',
        route: '/admin/tenants',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      metricValue(text, 'http_requests_total', { method: 'GET', route: '/healthz', status: '200' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('counts tool calls by tenant, tool and outcome, and observes their latency', async () => {
    const t = await tenant(['math:use']);
    const noScope = await tenant([]);
    const calls = (text: string, slug: string, outcome: string) =>
      metricValue(text, 'mcp_tool_calls_total', { tenant: slug, tool: 'add', outcome });
    const before = await scrape(p);
    const durationBefore = metricValue(before, 'mcp_tool_duration_seconds_count', { tool: 'add' });
    const postsBefore = mcpPosts(before, '200');

    const { client: c } = await client(t.slug, t.key);
    expect(
      (await c.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).structuredContent,
    ).toEqual({ result: 3 });
    await c.callTool({ name: 'add', arguments: { a: 5, b: 5 } });
    expect((await c.callTool({ name: 'add', arguments: { a: 'x', b: 1 } })).isError).toBe(true);
    const denied = await rawPost(p, noScope.slug, toolsCall('add', { a: 1, b: 1 }), {
      ...bearer(noScope.key),
    });
    expect(denied.status).toBe(403);

    const after = await scrape(p);
    expect(calls(before, t.slug, 'ok')).toBe(0);
    expect(calls(after, t.slug, 'ok')).toBe(2);
    expect(calls(after, t.slug, 'error')).toBe(1);
    expect(calls(after, noScope.slug, 'denied')).toBe(1);
    expect(calls(after, noScope.slug, 'ok')).toBe(0);
    expect(
      samples(after, 'mcp_tool_calls_total', { tenant: t.slug, tool: 'add', outcome: 'ok' }),
    ).toHaveLength(1);

    // Both the ok and the error call ran the handler and were timed.
    expect(metricValue(after, 'mcp_tool_duration_seconds_count', { tool: 'add' })).toBe(
      durationBefore + 3,
    );
    const buckets = samples(after, 'mcp_tool_duration_seconds_bucket', { tool: 'add' });
    expect(buckets.length).toBeGreaterThan(3);
    expect(buckets.find((b) => b.labels.le === '+Inf')!.value).toBe(durationBefore + 3);
    const sorted = [...buckets].sort((a, b) => Number(a.labels.le) - Number(b.labels.le));
    for (let i = 1; i < sorted.length; i++) {
      expect(sorted[i].value).toBeGreaterThanOrEqual(sorted[i - 1].value);
    }
    expect(mcpPosts(after, '200')).toBeGreaterThan(postsBefore);
    expect(mcpPosts(after, '403')).toBeGreaterThanOrEqual(1);
  });

  it('counts refused credentials by reason', async () => {
    const t = await tenant(['math:use']);
    const revoked = await key(t.slug, { name: 'revoked' });
    await p.admin.revokeKey(t.slug, revoked.id);
    const wrong = formatApiKey(parseApiKey(t.key)!.keyId, 'Q'.repeat(32));
    secrets.push(wrong);

    const before = await scrape(p);
    for (const secret of [wrong, wrong, revoked.secret]) {
      const res = await rawPost(p, t.slug, initializeRequest(), bearer(secret));
      expect(res.status).toBe(401);
    }
    expect((await rawPost(p, t.slug, initializeRequest())).status).toBe(401);
    const after = await scrape(p);
    const delta = (reason: string) =>
      metricValue(after, 'auth_failures_total', { reason }) -
      metricValue(before, 'auth_failures_total', { reason });
    expect(delta('invalid')).toBe(2);
    expect(delta('revoked')).toBe(1);
    expect(delta('missing')).toBe(1);
    expect(mcpPosts(after, '401')).toBeGreaterThanOrEqual(4);
  });

  it('reports open MCP sessions', async () => {
    const t = await tenant([]);
    const open = () => metricNow(p, 'mcp_open_sessions');
    const sessionsAre = (n: number) =>
      pollUntil(3_000, `mcp_open_sessions at ${n}`, async () => (await open()) === n || undefined);
    const base = await open();
    const { client: c, transport } = await client(t.slug, t.key);
    await c.listTools();
    expect(transport.sessionId).toEqual(expect.any(String));
    await sessionsAre(base + 1);
    await transport.terminateSession();
    await sessionsAre(base);
  });

  it('counts requests refused with 429 by limit', async () => {
    const t = await tenant([]);
    const limited = await key(t.slug, { name: 'one a minute' });
    await p.admin.patchKey(t.slug, limited.id, { rateLimitPerMinute: 1 });
    const before = await metricNow(p, 'rate_limited_total', { limit: 'key' });
    expect((await rawPost(p, t.slug, initializeRequest(), bearer(limited.secret))).status).toBe(
      200,
    );
    const refused = await rawPost(p, t.slug, initializeRequest(), bearer(limited.secret));
    expect(refused.status).toBe(429);
    const after = await scrape(p);
    expect(metricValue(after, 'rate_limited_total', { limit: 'key' })).toBe(before + 1);
    expect(mcpPosts(after, '429')).toBeGreaterThanOrEqual(1);
  });

  it('labels routes by their pattern, never by a tenant slug or raw path', async () => {
    const t = await tenant(['math:use']);
    await rawPost(p, t.slug, initializeRequest(), bearer(t.key));
    await p.http().get(`/admin/tenants/${t.slug}/keys`).set(ADMIN).expect(200);
    await p.http().get(`/admin/tenants/${t.slug}`).set(ADMIN).expect(200);
    await p.http().get(`/.well-known/oauth-protected-resource/t/${t.slug}/mcp`).expect(200);
    await p.http().get(`/t/${t.slug}/no-such-route-${t.slug}`).set(bearer(t.key));
    await rawPost(p, `missing-${hex(4)}`, initializeRequest(), bearer(t.key));

    const text = await scrape(p);
    const routes = new Set(
      [
        ...samples(text, 'http_requests_total'),
        ...samples(text, 'http_request_duration_seconds_count'),
      ].map((s) => s.labels.route),
    );
    expect(routes).toContain('/t/:tenant/mcp');
    expect(routes).toContain('/admin/tenants/:tenant/keys');
    expect(routes).toContain('/admin/tenants/:tenant');
    for (const route of routes) {
      expect(route).toEqual(expect.any(String));
      for (const slug of slugs) expect(route).not.toContain(slug);
      expect(route).not.toContain('missing-');
      expect(route).not.toContain('no-such-route');
    }
    // Slugs appear only as the `tenant` label of tool-call counters.
    for (const s of parseMetrics(text)) {
      for (const [label, value] of Object.entries(s.labels)) {
        if (label === 'tenant' && s.name === 'mcp_tool_calls_total') continue;
        for (const slug of slugs) expect(`${s.name}{${label}=${value}}`).not.toContain(slug);
      }
    }
  });

  it('does not create a series for every tool name a client makes up', async () => {
    const t = await tenant(['math:use']);
    const { client: c } = await client(t.slug, t.key);
    const made = Array.from({ length: 20 }, () => `made_up_${hex(6)}`);
    for (const name of made) {
      const err = await rejectionOf(c.callTool({ name, arguments: {} }));
      expect(err.message).toContain('not found');
    }
    const text = await scrape(p);
    for (const name of made) expect(text).not.toContain(name);
    const toolLabels = new Set(samples(text, 'mcp_tool_calls_total').map((s) => s.labels.tool));
    expect(toolLabels.size).toBeLessThan(20);
  });

  it('never shows a credential', async () => {
    const text = await scrape(p);
    expect(text).not.toMatch(API_KEY_SHAPE);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(secrets.length).toBeGreaterThan(5);
  });
});

describe('metrics behind METRICS_TOKEN (ops)', () => {
  const p = usePlatform({ METRICS_TOKEN });

  it('answers 401 without the token or with a wrong one, and 200 with it', async () => {
    const t = await p.admin.tenantWithKey(['math:use']);
    await rawPost(p, t.slug, initializeRequest(), bearer(t.key));

    for (const headers of [
      {},
      { Authorization: 'Bearer wrong-metrics-token-0123456789' },
      { Authorization: `Bearer ${METRICS_TOKEN}x` },
      { Authorization: `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}` },
      { Authorization: METRICS_TOKEN },
      bearer(t.key),
    ]) {
      const res = await p.http().get('/metrics').set(headers);
      expect({ headers, status: res.status }).toEqual({ headers, status: 401 });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      expect(res.text).not.toContain('http_requests_total');
    }

    const res = await p.http().get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('# TYPE http_requests_total counter');
    expect(
      metricValue(res.text, 'http_requests_total', {
        method: 'POST',
        route: '/t/:tenant/mcp',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(res.text).not.toContain(METRICS_TOKEN);
    expect(res.text).not.toContain(t.key);
    expect(res.text).not.toContain(ADMIN_TOKEN);
    expect(res.text).not.toMatch(API_KEY_SHAPE);
  });
});
