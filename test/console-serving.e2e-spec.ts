import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN, bearer } from './support/admin';
import { waitForAudit } from './support/audit';
import { usePlatform } from './support/platform';

/** The console's build: `npm test` builds it first (pretest), as `npm start` does. */
const INDEX = readFileSync(join(__dirname, '..', 'dist', 'console', 'index.html'), 'utf8');
const SCRIPT = /<script type="module" crossorigin src="(\/console\/assets\/[^"]+\.js)"/.exec(
  INDEX,
)?.[1];

describe('the console at /console', () => {
  const p = usePlatform();

  const expectConsoleHeaders = (headers: Record<string, string>) => {
    const csp = headers['content-security-policy'];
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['referrer-policy']).toBe('no-referrer');
    expect(headers['set-cookie']).toBeUndefined();
  };

  it('serves the page with a strict CSP, no framing and no cookie', async () => {
    const res = await p.http().get('/console');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toBe(INDEX);
    expect(res.headers['cache-control']).toBe('no-cache');
    expectConsoleHeaders(res.headers);
  });

  it('the page loads nothing from another origin and runs no inline script', () => {
    expect(SCRIPT).toBeDefined();
    expect(INDEX).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(INDEX).not.toMatch(/\b(src|href)="(https?:)?\/\//);
    expect(INDEX).not.toMatch(/\sstyle=/);
  });

  it('answers every console route with the page, so a reload or a shared link works', async () => {
    for (const path of ['/console/', '/console/tenants', '/console/tenants/acme/keys']) {
      const res = await p.http().get(path);
      expect(res.status).toBe(200);
      expect(res.text).toBe(INDEX);
      expectConsoleHeaders(res.headers);
    }
  });

  it('serves hashed assets cached for good, and HEAD too', async () => {
    const res = await p.http().get(SCRIPT!);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toContain('immutable');
    expectConsoleHeaders(res.headers);
    const head = await p.http().head(SCRIPT!);
    expect(head.status).toBe(200);
  });

  it('a file the build does not have is a 404 with an error body, never the page', async () => {
    for (const path of [
      '/console/assets/nope.js',
      '/console/favicon.ico',
      '/console/assets/%2e%2e/index.html',
      '/console/assets/..%2f..%2fpackage.json',
    ]) {
      const res = await p.http().get(path);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
    }
    const traversal = await p.http().get('/console/..%2f..%2fpackage.json');
    expect(traversal.text).not.toContain('"dependencies"');
  });
});

describe('GET /admin/tenants/:tenant/audit/hourly', () => {
  const p = usePlatform();

  it('counts the current hour’s calls, errors and denials, zero-filled, oldest first', async () => {
    const { slug, key } = await p.admin.tenantWithKey([]);
    const client = await p.connect(slug, bearer(key));
    await client.callTool({ name: 'echo', arguments: { text: 'a' } });
    await client.callTool({ name: 'echo', arguments: { text: 'b' } });
    // No math:use scope: a refused call.
    await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }).catch(() => undefined);
    // A refused credential on this tenant.
    await p
      .http()
      .post(`/t/${slug}/mcp`)
      .set(bearer(`${key.slice(0, -4)}AAAA`))
      .send({});
    await waitForAudit(p, slug, (e) => e.outcome === 'denied', { count: 2 });
    await waitForAudit(p, slug, (e) => e.action === 'tool.call' && e.outcome === 'ok', {
      count: 2,
    });

    const res = await p.http().get(`/admin/tenants/${slug}/audit/hourly`).set(ADMIN);
    expect(res.status).toBe(200);
    const body = res.body as {
      from: string;
      to: string;
      hours: { hour: string; calls: number; errors: number; denials: number }[];
    };
    expect(body.hours).toHaveLength(24);
    const starts = body.hours.map((h) => Date.parse(h.hour));
    starts.forEach((t, i) => i && expect(t - starts[i - 1]).toBe(3_600_000));
    expect(body.from).toBe(body.hours[0].hour);
    expect(Date.parse(body.to)).toBe(starts[23] + 3_600_000);
    expect(Date.parse(body.to)).toBeGreaterThan(Date.now() - 60_000);
    const total = body.hours.reduce(
      (t, h) => ({
        calls: t.calls + h.calls,
        errors: t.errors + h.errors,
        denials: t.denials + h.denials,
      }),
      { calls: 0, errors: 0, denials: 0 },
    );
    // Two calls that ran, the refused one, and the refused credential.
    expect(total).toEqual({ calls: 3, errors: 0, denials: 2 });
    expect(body.hours.slice(0, 22).every((h) => h.calls === 0)).toBe(true);
  });

  it('a week at most; another tenant’s admin key is refused', async () => {
    const { slug } = await p.admin.tenantWithKey([]);
    const week = await p.http().get(`/admin/tenants/${slug}/audit/hourly?hours=168`).set(ADMIN);
    expect(week.status).toBe(200);
    expect(week.body.hours).toHaveLength(168);
    for (const hours of ['0', '169', '1.5', 'day']) {
      const bad = await p
        .http()
        .get(`/admin/tenants/${slug}/audit/hourly?hours=${hours}`)
        .set(ADMIN);
      expect(bad.status).toBe(400);
      expect(bad.body.message).toMatch(/hours: must be a whole number of hours from 1 to 168/);
    }
    const other = await p.admin.tenantWithKey(['tenant:admin']);
    const refused = await p
      .http()
      .get(`/admin/tenants/${slug}/audit/hourly`)
      .set(bearer(other.key));
    expect(refused.status).toBe(403);
  });
});
