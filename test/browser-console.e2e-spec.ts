import type { Page } from 'playwright-core';
import { ADMIN_TOKEN, bearer } from './support/admin';
import { inPage, screenshot, useConsole } from './support/browser';
import { toolNames } from './support/mcp';
import { openModernClient } from './support/mcp-modern';
import { usePlatform } from './support/platform';
import { waitForAudit } from './support/audit';
import { pollUntil } from './support/http';

/**
 * The console in a real Chromium against a real platform: what an operator does, end to end,
 * without curl. Secrets travel the way a person moves them: shown once, copied with the button,
 * pasted into an MCP client (here the SDK's).
 */
describe('the console in Chromium', () => {
  const p = usePlatform();
  const ui = useConsole(() => p.url);
  const signIn = (token: string, tenant?: string) => ui.signIn(token, tenant);
  let page: Page;
  beforeEach(() => {
    page = ui.page;
  });

  /** Waits (briefly) until the client's tools/list does or does not name echo. */
  const listsEcho = (client: Awaited<ReturnType<typeof p.connect>>, listed: boolean) =>
    pollUntil(3_000, `echo ${listed ? 'listed' : 'gone'}`, async () =>
      (await toolNames(client)).includes('echo') === listed ? true : undefined,
    );

  const readClipboard = () => inPage<string>(page, 'navigator.clipboard.readText()');

  it('serves the page with its CSP and frame protection, and asks to sign in', async () => {
    const res = await page.goto('/console');
    const headers = res!.headers();
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['x-frame-options']).toBe('DENY');
    await expect(page.getByLabel('Credential').isVisible()).resolves.toBe(true);
    await screenshot(page, '01-sign-in');
    // A wrong token: the platform's refusal is shown, nothing is kept.
    await page.getByLabel('Credential').fill('not-the-admin-token-at-all-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').first().textContent()).resolves.toMatch(/not accept/);
    expect(await inPage<number>(page, 'sessionStorage.length')).toBe(0);
  });

  it('platform admin: creates a tenant and a key, and the copied secret works in an MCP client; rotate, revoke', async () => {
    await signIn(ADMIN_TOKEN);
    await page
      .getByRole('heading', { name: /Tenants/ })
      .first()
      .waitFor();
    // A bad slug: the API's message, next to the field.
    await page.getByLabel('Slug').fill('Not A Slug!');
    await page.getByLabel('Name', { exact: true }).fill('Acme');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.locator('[data-field="slug"]').waitFor();
    expect(await page.locator('[data-field="slug"]').textContent()).toMatch(/slug|lowercase|must/i);

    const slug = `console-${Date.now().toString(36)}`;
    await page.getByLabel('Slug').fill(slug);
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.waitForURL(`**/console/tenants/${slug}/keys`);
    await screenshot(page, '02-keys-empty');

    await page.getByLabel('Key name').fill('laptop');
    await page.getByLabel('math:use', { exact: true }).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByTestId('new-secret');
    await shown.waitFor();
    const secret = (await shown.textContent())!.trim();
    expect(secret).toMatch(/^mcp_/);
    await page.getByRole('button', { name: 'Copy secret' }).click();
    const copied = await readClipboard();
    expect(copied).toBe(secret);
    // The secret is never kept by the page beyond this view, never put in a URL.
    expect(page.url()).not.toContain(secret);
    expect(await inPage<string>(page, 'JSON.stringify(sessionStorage)')).not.toContain(secret);
    await screenshot(page, '03-key-secret-once');

    // The connect snippets carry the secret and the tenant's endpoint, and are valid JSON.
    const endpoint = `${p.url}/t/${slug}/mcp`;
    const snippet = async (title: string) =>
      (await page.locator(`[data-snippet="${title}"] pre`).first().textContent())!;
    expect(await snippet('Claude Code')).toContain(
      `claude mcp add --transport http ${slug} ${endpoint} --header "Authorization: Bearer ${secret}"`,
    );
    const remote = JSON.parse(await snippet('mcp-remote (Claude Desktop)')) as {
      mcpServers: Record<string, { args: string[]; env: Record<string, string> }>;
    };
    expect(remote.mcpServers[slug].args).toContain(endpoint);
    expect(remote.mcpServers[slug].env.AUTH_HEADER).toBe(`Bearer ${secret}`);
    const vscode = JSON.parse(await snippet('VS Code (.vscode/mcp.json)')) as {
      servers: Record<string, { type: string; url: string }>;
    };
    expect(vscode.servers[slug]).toMatchObject({ type: 'http', url: endpoint });
    expect(JSON.stringify(vscode)).not.toContain(secret);

    // Pasted into a real MCP client: it connects and lists the tools of its scopes.
    const client = await p.connect(slug, bearer(copied));
    expect(await toolNames(client)).toEqual(expect.arrayContaining(['add', 'echo', 'whoami']));
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toMatchObject({
      content: [{ type: 'text', text: JSON.stringify({ result: 5 }) }],
    });

    await page.getByRole('button', { name: 'I have copied it' }).click();
    await expect(page.getByTestId('new-secret').count()).resolves.toBe(0);
    expect(await page.content()).not.toContain(secret);

    // Rotate with a grace period: a new secret, shown once; the old one still works for now.
    const row = page.locator('tr[data-key-id]').filter({ hasText: 'laptop' });
    await row.getByRole('button', { name: 'Rotate' }).click();
    await page.getByLabel('Grace period').selectOption({ index: 1 });
    await page.getByRole('button', { name: 'Rotate now' }).click();
    await page.getByTestId('new-secret').waitFor();
    const rotated = (await page.getByTestId('new-secret').textContent())!.trim();
    expect(rotated).not.toBe(secret);
    await page.getByRole('button', { name: 'Copy secret' }).click();
    expect(await readClipboard()).toBe(rotated);
    const renewed = await p.connect(slug, bearer(rotated));
    expect(await toolNames(renewed)).toContain('add');
    expect(await toolNames(await p.connect(slug, bearer(secret)))).toContain('add');
    await page.getByRole('button', { name: 'I have copied it' }).click();

    // Revoke behind a typed confirmation: the client's next request fails.
    await row.getByRole('button', { name: 'Revoke' }).click();
    const revoke = page.getByRole('button', { name: 'Revoke key' });
    await expect(revoke.isDisabled()).resolves.toBe(true);
    await page.getByLabel(/to confirm/).fill('laptop');
    await revoke.click();
    await row
      .getByText(/revoked/i)
      .first()
      .waitFor();
    await expect(renewed.listTools()).rejects.toThrow(/401|not valid|revoked/i);
    await screenshot(page, '04-keys-revoked');
  });

  it('platform admin: turning a tool off removes it from the client’s list; turning it on brings it back', async () => {
    const { slug, key } = await p.admin.tenantWithKey([]);
    const client = await p.connect(slug, bearer(key));
    expect(await toolNames(client)).toContain('echo');
    await signIn(ADMIN_TOKEN);
    await page.goto(`/console/tenants/${slug}/tools`);
    const toggle = page.getByLabel('Enabled: echo', { exact: true });
    await expect(toggle.isChecked()).resolves.toBe(true);
    await toggle.uncheck();
    await listsEcho(client, false);
    await expect(toggle.isChecked()).resolves.toBe(false);
    await screenshot(page, '05-tools');
    await page.reload();
    await expect(page.getByLabel('Enabled: echo', { exact: true }).isChecked()).resolves.toBe(
      false,
    );
    await page.getByLabel('Enabled: echo', { exact: true }).check();
    await listsEcho(client, true);
  });
  it('tenant admin: signs in with a key and the tenant slug, sees only its tenant, is refused elsewhere', async () => {
    const mine = await p.admin.tenantWithKey(['tenant:admin'], undefined, 'own');
    const other = await p.admin.createTenant('other');
    // Without the tenant, the console says what is missing; nothing is kept.
    await page.goto('/console');
    await page.getByLabel('Credential').fill(mine.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').first().textContent()).resolves.toMatch(
      /enter its tenant too/,
    );
    expect(await inPage<number>(page, 'sessionStorage.length')).toBe(0);
    // The key is not accepted for another tenant either.
    await page.getByLabel('Tenant (tenant admins only)').fill(other.slug);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').first().textContent()).resolves.toMatch(
      new RegExp(`may not manage tenant "${other.slug}"`),
    );

    await signIn(mine.key, mine.slug);
    await page.waitForURL(`**/console/tenants/${mine.slug}/keys`);
    await expect(page.getByText(`Tenant admin of ${mine.slug}`).isVisible()).resolves.toBe(true);
    await expect(page.getByRole('link', { name: 'Tenants', exact: true }).count()).resolves.toBe(0);
    await page.locator('tr[data-key-id]').first().waitFor();

    await page.goto(`/console/tenants/${other.slug}/keys`);
    const refused = page.getByRole('alert').first();
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/Refused \(403\)/);
    await page.goto('/console/tenants');
    await page.getByText('Only the platform admin lists tenants.').waitFor();
    // The refusal did not end the session: its own tenant still opens.
    await page.goto(`/console/tenants/${mine.slug}/tools`);
    await page.locator('tr[data-tool="echo"]').waitFor();

    // Sign out forgets the credential.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('Signed out.').waitFor();
    expect(await inPage<number>(page, 'sessionStorage.length')).toBe(0);
  });

  it('a credential revoked while signed in: the next page asks to sign in again', async () => {
    const mine = await p.admin.tenantWithKey(['tenant:admin'], undefined, 'lost');
    await signIn(mine.key, mine.slug);
    await page.locator('tr[data-key-id]').first().waitFor();
    await p.admin.revokeKey(mine.slug, mine.keyId);
    await page.getByRole('link', { name: 'Tools', exact: true }).click();
    const notice = page.getByRole('status').filter({ hasText: 'Your session ended' });
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/Sign in again\./);
    await expect(page.getByLabel('Credential').isVisible()).resolves.toBe(true);
    expect(await inPage<number>(page, 'sessionStorage.length')).toBe(0);
  });

  it('platform admin: pages through tenants, suspends, resumes and deletes one behind its slug', async () => {
    const victim = await p.admin.createTenant('victim');
    const key = (await p.admin.createKey(victim.slug, { scopes: ['math:use'] })).secret;
    for (let i = 0; i < 21; i++) await p.admin.createTenant('fill');
    await signIn(ADMIN_TOKEN);
    const rows = page.locator('tr[data-tenant]');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(20);
    const firstPage = await rows.allTextContents();
    await page.getByRole('button', { name: 'Next page' }).click();
    const firstRowIs = (same: boolean) =>
      pollUntil(5_000, 'the page to change', async () =>
        ((await rows.first().textContent()) === firstPage[0]) === same ? true : undefined,
      );
    await firstRowIs(false);
    const secondPage = await rows.allTextContents();
    expect(secondPage.some((r) => firstPage.includes(r))).toBe(false);
    await page.getByRole('button', { name: 'First page' }).click();
    await firstRowIs(true);
    await screenshot(page, '00-tenants');

    // Oldest first: the victim, made before the fillers, is on the first page.
    const row = page.locator(`tr[data-tenant="${victim.slug}"]`);
    await row.getByRole('button', { name: 'Suspend' }).click();
    await row.getByText('suspended').waitFor();
    const suspended = await p.http().post(`/t/${victim.slug}/mcp`).set(bearer(key)).send({});
    expect(suspended.status).toBe(403);
    await row.getByRole('button', { name: 'Resume' }).click();
    await row.getByText('active').waitFor();
    expect(await toolNames(await p.connect(victim.slug, bearer(key)))).toContain('add');

    await row.getByRole('button', { name: 'Delete' }).click();
    const del = page.getByRole('button', { name: 'Delete tenant' });
    await expect(del.isDisabled()).resolves.toBe(true);
    await page.getByLabel(/to confirm/).fill(victim.slug.slice(0, -1));
    await expect(del.isDisabled()).resolves.toBe(true);
    await page.getByLabel(/to confirm/).fill(victim.slug);
    await del.click();
    await row.waitFor({ state: 'detached' });
    expect((await p.admin.request('GET', `/admin/tenants/${victim.slug}`)).status).toBe(404);
  });

  it('connect page: the endpoint and the snippets, filled with a pasted key that goes nowhere', async () => {
    const { slug, key } = await p.admin.tenantWithKey(['math:use']);
    await signIn(ADMIN_TOKEN);
    await page.goto(`/console/tenants/${slug}/connect`);
    const endpoint = `${p.url}/t/${slug}/mcp`;
    await expect(page.getByTestId('endpoint').textContent()).resolves.toBe(endpoint);
    const claude = page.locator('[data-snippet="Claude Code"] pre');
    expect(await claude.textContent()).toContain('Bearer <YOUR_API_KEY>');
    await page.getByLabel('API key to fill in').fill(key);
    expect(await claude.textContent()).toContain(`Bearer ${key}`);
    const cli = (await page.locator('[data-snippet="MCP Inspector (CLI)"] pre').textContent())!;
    expect(cli).toContain(`--cli ${endpoint} --transport http`);
    await page
      .locator('[data-snippet="Claude Code"]')
      .getByRole('button', { name: 'Copy' })
      .click();
    expect(await readClipboard()).toBe(await claude.textContent());
    expect(page.url()).not.toContain(key);
    expect(await inPage<string>(page, 'JSON.stringify(sessionStorage)')).not.toContain(key);
    await screenshot(page, '06-connect');
  });
  it('audit: the chart counts calls, errors and denials; filters and pages the events', async () => {
    const { slug, key } = await p.admin.tenantWithKey(['math:use']);
    const client = await p.connect(slug, bearer(key));
    await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
    await client.callTool({ name: 'add', arguments: { a: 2, b: 2 } });
    await client.callTool({ name: 'add', arguments: { a: 'x', b: 2 } }); // an error
    await client.callTool({ name: 'notes_get', arguments: { id: 'n' } }).catch(() => undefined); // no notes:read
    for (let i = 0; i < 8; i++)
      await client.callTool({ name: 'echo', arguments: { text: `${i}` } });
    await waitForAudit(p, slug, (e) => e.action === 'tool.call', { count: 12 });

    await signIn(ADMIN_TOKEN);
    await page.goto(`/console/tenants/${slug}/audit`);
    const totals = page.getByTestId('audit-totals');
    await totals.waitFor();
    expect(await totals.textContent()).toBe('12 calls, 1 error, 1 denial');
    // This hour's three bars, with the numbers in their titles.
    const bars = page.locator('svg.audit-chart rect.bar');
    expect(await bars.count()).toBe(3);
    expect(await page.locator('svg.audit-chart rect.bar.calls title').textContent()).toMatch(
      /: 12 calls$/,
    );
    expect(await page.locator('svg.audit-chart').getAttribute('aria-label')).toMatch(
      /^12 calls, 1 error, 1 denial per hour over 24 hours$/,
    );
    await page.getByLabel('Window').selectOption({ label: 'Last 7 days' });
    await page.locator('svg.audit-chart[aria-label$="over 168 hours"]').waitFor();
    expect(await page.locator('svg.audit-chart g[data-hour]').count()).toBe(168);
    expect(await totals.textContent()).toBe('12 calls, 1 error, 1 denial');
    await screenshot(page, '07-audit');

    const rows = page.locator('tr[data-event-id]');
    /** The rows once there are `n` of them, each matching `each` (the page has loaded them). */
    const shown = (n: number, each = /./) =>
      pollUntil(5_000, `${n} events shown, each matching ${each}`, async () => {
        const texts = await rows.allTextContents();
        return texts.length === n && texts.every((t) => each.test(t)) ? texts : undefined;
      });
    // Newest first: the last echo tops the list; the tenant's and the key's creation at the bottom.
    const all = await shown(14);
    expect(all[0]).toContain('echo');
    expect(all[12]).toContain('key.create');
    expect(all[13]).toContain('tenant.create');

    await page.getByLabel('Tool', { exact: true }).fill('add');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await shown(3, /tool\.call.*add/);
    await page.getByLabel('Outcome').selectOption('error');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await shown(1, /tool\.call.*add.*error/);
    await page.getByLabel('Tool', { exact: true }).fill('');
    await page.getByLabel('Outcome').selectOption('denied');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await shown(1, /notes_get.*denied/);
    // A time window that ended before the tenant existed holds nothing.
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await shown(14);
    await page.getByLabel('To', { exact: true }).fill('2020-01-01T00:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No events match.').waitFor();
    // A malformed filter: the API's message next to its field.
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('Key ID').fill('not-a-key-id');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.locator('[data-field="keyId"]').waitFor();
    expect(await page.locator('[data-field="keyId"]').textContent()).toMatch(/uuid/);

    // Cursor paging: 10 per page, then the other 4, then back.
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await shown(14);
    await page.getByLabel('Per page').selectOption('10');
    const first = await shown(10);
    await page.getByRole('button', { name: 'Next page' }).click();
    const second = await shown(4);
    expect(second.some((r) => first.includes(r))).toBe(false);
    expect(second[3]).toContain('tenant.create');
    await expect(page.getByRole('button', { name: 'Next page' }).isDisabled()).resolves.toBe(true);
    await page.getByRole('button', { name: 'First page' }).click();
    expect(await shown(10)).toEqual(first);
  });

  it('protocol: the platform admin switches a tenant to modern-only; a bad origin changes nothing; a tenant admin only reads', async () => {
    const { slug, key } = await p.admin.tenantWithKey(['math:use', 'tenant:admin']);
    await signIn(ADMIN_TOKEN);
    await page.goto(`/console/tenants/${slug}/protocol`);
    const posture = page.getByLabel('Protocol posture');
    await expect(posture.inputValue()).resolves.toBe('dual');

    await page.getByLabel('Allowed origins').fill('https://ok.example.com\nnot an origin');
    await page.getByRole('button', { name: 'Save protocol settings' }).click();
    await page.locator('[data-field="allowedOrigins"]').waitFor();
    expect(await page.locator('[data-field="allowedOrigins"]').textContent()).toMatch(
      /scheme:\/\/host/,
    );
    expect((await p.admin.request('GET', `/admin/tenants/${slug}`)).json).toMatchObject({
      allowedOrigins: [],
      protocol: 'dual',
    });

    await page.getByLabel('Allowed origins').fill('https://ok.example.com');
    await posture.selectOption('modern-only');
    await page.getByLabel('Requests per key per minute').fill('120');
    await page.getByRole('button', { name: 'Save protocol settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    expect((await p.admin.request('GET', `/admin/tenants/${slug}`)).json).toMatchObject({
      allowedOrigins: ['https://ok.example.com'],
      protocol: 'modern-only',
      rateLimits: { keyPerMinute: 120 },
    });
    await expect(page.locator('.tenant-header').textContent()).resolves.toContain(slug);
    // A 2025 client is turned away; a 2026-07-28 client works.
    await expect(p.connect(slug, bearer(key))).rejects.toThrow();
    const modern = await openModernClient(p, slug, bearer(key));
    expect((await modern.listTools()).tools.map((t) => t.name)).toContain('add');
    await modern.close();
    await screenshot(page, '08-protocol');

    // A tenant admin sees the same settings, read-only.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(key, slug);
    await page.goto(`/console/tenants/${slug}/protocol`);
    await page.getByText(/a platform admin changes them/).waitFor();
    await expect(page.getByLabel('Protocol posture').inputValue()).resolves.toBe('modern-only');
    await expect(page.getByLabel('Protocol posture').isDisabled()).resolves.toBe(true);
    await expect(
      page.getByRole('button', { name: 'Save protocol settings' }).count(),
    ).resolves.toBe(0);
  });
});
