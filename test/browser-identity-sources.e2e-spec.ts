import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Locator, Page } from 'playwright-core';
import { ADMIN_TOKEN, bearer } from './support/admin';
import { authSecret, useAuthService } from './support/auth-service';
import { screenshot, useConsole } from './support/browser';
import { freePort, pollUntil } from './support/http';
import { toolNames } from './support/mcp';
import { useOidcProvider } from './support/oidc-provider';
import { startPetApi, type PetApi } from './support/pet-api';
import { usePlatform } from './support/platform';
import { startUpstreamMcp, type UpstreamMcp } from './support/upstream-mcp';

type CallResult = { content: { type: string; text?: string }[]; isError?: boolean };
const textOf = (r: unknown) => (r as CallResult).content.map((c) => c.text ?? '').join('');
const secret = () => `upstream-secret-${randomBytes(8).toString('hex')}`;

const whoami = async (client: Client) =>
  (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent as {
    kind: string;
    id: string;
    scopes: string[];
  };

/**
 * The console's "Identity providers" and "Sources" pages in a real Chromium against a real
 * platform: what a tenant's admin sets there is what the tenant's MCP endpoint then does, seen
 * through real MCP clients, with a real OpenID provider, auth service and upstream servers.
 */
describe('the console in Chromium: identity providers and tool sources', () => {
  const p = usePlatform();
  const op = useOidcProvider();
  const ADA_PASS = authSecret();
  const auth = useAuthService({ users: { ada: { pass: ADA_PASS, scopes: ['math:use'] } } });
  const upstreams: { stop(): Promise<void> }[] = [];
  const ui = useConsole(() => p.url);
  const signIn = (token: string, tenant?: string) => ui.signIn(token, tenant);
  let page: Page;
  beforeEach(() => {
    page = ui.page;
  });
  afterAll(async () => {
    await Promise.all(upstreams.map((u) => u.stop().catch(() => undefined)));
  });

  const aud = (slug: string) => `${p.config.publicUrl}/t/${slug}/mcp`;
  const getAuth = async (slug: string) =>
    (await p.admin.request('GET', `/admin/tenants/${slug}/auth`)).json as Record<string, unknown>;
  const panel = (name: RegExp): Locator => page.getByRole('region', { name });
  const status = (within: Locator) => within.getByRole('status');

  describe('identity providers', () => {
    const openIdentity = async (slug: string) => {
      await signIn(ADMIN_TOKEN);
      await page.goto(`/console/tenants/${slug}/identity`);
      await panel(/^JWT/).waitFor();
    };

    it('a JWT issuer set by its name alone is saved, shown after a reload, and its tokens open the endpoint; removing it shuts them out', async () => {
      const { slug } = await p.admin.createTenant('ui-jwt');
      await openIdentity(slug);
      const link = page.getByTestId('resource-metadata');
      const discovery = `${p.config.publicUrl}/.well-known/oauth-protected-resource/t/${slug}/mcp`;
      // The link names PUBLIC_URL once the page has read the endpoint's metadata.
      await pollUntil(5_000, 'the metadata link', async () =>
        (await link.getAttribute('href')) === discovery ? true : undefined,
      );
      expect(await link.textContent()).toBe(discovery);

      const jwt = panel(/^JWT/);
      await jwt.getByLabel('Issuer').fill(op.issuer);
      await jwt.getByRole('button', { name: 'Save JWT settings' }).click();
      expect(await status(jwt).textContent()).toBe('JWT settings saved.');
      // The page now shows what clients discover: the issuer as the authorization server.
      await page.getByTestId('authorization-servers').getByText(op.issuer).waitFor();
      const metadata = (await (await fetch(discovery)).json()) as Record<string, unknown>;
      expect(metadata.authorization_servers).toEqual([op.issuer]);

      await page.reload();
      await expect(panel(/^JWT/).getByLabel('Issuer').inputValue()).resolves.toBe(op.issuer);
      await expect(panel(/^JWT/).getByLabel('JWKS URI').inputValue()).resolves.toBe('');
      expect(await getAuth(slug)).toMatchObject({ jwt: { issuer: op.issuer } });

      const token = await op.token({ resource: aud(slug), scope: 'math:use', format: 'jwt' });
      const client = await p.connect(slug, bearer(token));
      expect(await toolNames(client)).toEqual(expect.arrayContaining(['add', 'whoami']));
      expect(await whoami(client)).toMatchObject({ kind: 'jwt', scopes: ['math:use'] });
      await screenshot(page, '11-identity-jwt');

      // Removing asks once more; then the same provider's tokens are refused.
      await panel(/^JWT/).getByRole('button', { name: 'Remove JWT settings' }).click();
      await page.getByRole('dialog', { name: 'Remove JWT settings' }).waitFor();
      await page.getByRole('button', { name: 'Yes, remove them' }).click();
      expect(await status(panel(/^JWT/)).textContent()).toBe('JWT settings removed.');
      await expect(panel(/^JWT/).getByLabel('Issuer').inputValue()).resolves.toBe('');
      expect(await getAuth(slug)).toMatchObject({ jwt: null });
      const fresh = await op.token({ resource: aud(slug), scope: 'math:use', format: 'jwt' });
      await expect(p.connect(slug, bearer(fresh))).rejects.toThrow(/401/);
    });

    it('the JWT panel shows a malformed issuer next to its field and an unreachable one in the panel', async () => {
      const { slug } = await p.admin.createTenant('ui-jwt-bad');
      await openIdentity(slug);
      const jwt = panel(/^JWT/);
      await jwt.getByLabel('Issuer').fill('not a url');
      await jwt.getByRole('button', { name: 'Save JWT settings' }).click();
      const fieldError = jwt.locator('[data-field="jwt.issuer"]');
      await fieldError.waitFor();
      expect(await fieldError.textContent()).toMatch(/issuer must be an https URL/);
      await expect(jwt.getByLabel('Issuer').getAttribute('aria-invalid')).resolves.toBe('true');

      const closed = await freePort();
      await jwt.getByLabel('Issuer').fill(`http://127.0.0.1:${closed}/realms/gone`);
      await jwt.getByRole('button', { name: 'Save JWT settings' }).click();
      const alert = jwt.getByRole('alert');
      await alert.getByText(/Refused \(502\)/).waitFor();
      expect(await alert.textContent()).toMatch(/jwt\.issuer: .*\(or give jwt\.jwksUri\)/);
      await expect(jwt.locator('[data-field="jwt.issuer"]').count()).resolves.toBe(0);
      expect(await getAuth(slug)).toMatchObject({ jwt: null });
      await screenshot(page, '12-identity-jwt-refused');
    });

    it('introspection: the client secret is stored but never shown back; opaque tokens are accepted; a wrong secret is refused', async () => {
      const { slug } = await p.admin.createTenant('ui-intro');
      const settings = op.introspectionSettings() as {
        endpoint: string;
        clientId: string;
        clientSecret: string;
      };
      await openIdentity(slug);
      const intro = panel(/^Token introspection/);
      await expect(intro.getByLabel('Client secret').getAttribute('type')).resolves.toBe(
        'password',
      );
      await intro.getByLabel('Introspection endpoint').fill(settings.endpoint);
      await intro.getByLabel('Client ID').fill(settings.clientId);
      await intro.getByLabel('Client secret').fill(settings.clientSecret);
      await intro.getByRole('button', { name: 'Save introspection settings' }).click();
      expect(await status(intro).textContent()).toBe('introspection settings saved.');
      await expect(intro.getByLabel('Client secret').inputValue()).resolves.toBe('');
      await intro.getByText('A secret is stored; leave empty to keep it.').waitFor();
      expect(await page.content()).not.toContain(settings.clientSecret);

      await page.reload();
      const reloaded = panel(/^Token introspection/);
      await expect(reloaded.getByLabel('Introspection endpoint').inputValue()).resolves.toBe(
        settings.endpoint,
      );
      await expect(reloaded.getByLabel('Client secret').inputValue()).resolves.toBe('');
      await reloaded.getByText('A secret is stored; leave empty to keep it.').waitFor();
      expect(await page.content()).not.toContain(settings.clientSecret);
      expect(JSON.stringify(await getAuth(slug))).not.toContain(settings.clientSecret);

      const opaque = await op.token({ resource: aud(slug), scope: 'math:use', format: 'opaque' });
      const client = await p.connect(slug, bearer(opaque));
      expect(await whoami(client)).toMatchObject({ kind: 'introspection', scopes: ['math:use'] });

      // Saved again with the secret left empty: the stored one is kept (and tried again).
      await reloaded.getByLabel('Scopes claim').fill('scope');
      await reloaded.getByRole('button', { name: 'Save introspection settings' }).click();
      expect(await status(reloaded).textContent()).toBe('introspection settings saved.');
      expect(await getAuth(slug)).toMatchObject({
        introspection: { clientSecretSet: true, scopesClaim: 'scope' },
      });
      await screenshot(page, '13-identity-introspection');

      // A wrong secret: the provider refuses the client, the panel says so, nothing changes.
      await reloaded.getByLabel('Client secret').fill('wrong-secret-0123456789');
      await reloaded.getByRole('button', { name: 'Save introspection settings' }).click();
      await reloaded
        .getByRole('alert')
        .getByText(/Refused \(400\)/)
        .waitFor();
      expect(await reloaded.getByRole('alert').textContent()).toMatch(/introspection: /);
      const again = await op.token({ resource: aud(slug), scope: 'math:use', format: 'opaque' });
      expect(await whoami(await p.connect(slug, bearer(again)))).toMatchObject({
        kind: 'introspection',
      });
    });

    it('the tenant’s own auth service: saved with its headers, shown after a reload, and its users get in', async () => {
      const { slug } = await p.admin.createTenant('ui-ext');
      await openIdentity(slug);
      const ext = panel(/^Your own auth service/);
      // A header the platform reads itself is refused next to the field.
      await ext.getByLabel('Auth service URL').fill(auth.url);
      await ext.getByLabel('Headers').fill('X-User, Authorization');
      await ext.getByRole('button', { name: 'Save auth service settings' }).click();
      const fieldError = ext.locator('[data-field="external.headers"]');
      await fieldError.waitFor();
      expect(await fieldError.textContent()).toMatch(/must not be one of/);

      await ext.getByLabel('Headers').fill(auth.headerNames.join(', '));
      await ext.getByLabel('Timeout (ms)').fill('2000');
      await ext.getByLabel('Cache (seconds)').fill('0');
      await ext.getByRole('button', { name: 'Save auth service settings' }).click();
      expect(await status(ext).textContent()).toBe('auth service settings saved.');

      await page.reload();
      const reloaded = panel(/^Your own auth service/);
      await expect(reloaded.getByLabel('Auth service URL').inputValue()).resolves.toBe(auth.url);
      await expect(reloaded.getByLabel('Headers').inputValue()).resolves.toBe('x-user, x-pass');
      await expect(reloaded.getByLabel('Timeout (ms)').inputValue()).resolves.toBe('2000');
      await expect(reloaded.getByLabel('Cache (seconds)').inputValue()).resolves.toBe('0');
      expect(await getAuth(slug)).toMatchObject({
        external: {
          url: auth.url,
          headers: ['x-user', 'x-pass'],
          timeoutMs: 2000,
          cacheSeconds: 0,
        },
      });

      const client = await p.connect(slug, auth.headersFor('ada'));
      expect(await whoami(client)).toMatchObject({ kind: 'external', scopes: ['math:use'] });
      await expect(p.connect(slug, auth.headersFor('ada', 'wrong-password'))).rejects.toThrow(
        /401/,
      );
      expect(await page.content()).not.toContain(ADA_PASS);
      await screenshot(page, '14-identity-auth-service');
    });
  });

  describe('tool sources', () => {
    const sourceRow = (name: string) => page.locator(`tr[data-source="${name}"]`);
    const sourced = async (client: Client, prefix: string) =>
      (await toolNames(client)).filter((n) => n.startsWith(`${prefix}_`));
    /** Waits (briefly) until the client's list of the source's tools is `expected`. */
    const listsSourced = (client: Client, prefix: string, expected: string[]) =>
      pollUntil(5_000, `${prefix}_ tools ${expected.join(',') || 'gone'}`, async () => {
        const now = await sourced(client, prefix);
        return JSON.stringify(now) === JSON.stringify(expected) ? true : undefined;
      });

    it('a tenant admin adds an upstream MCP server with a secret header: its tools are on the page and in a client; refresh, disable, delete', async () => {
      const upstreamKey = secret();
      const upstream: UpstreamMcp = await startUpstreamMcp('stateful-2025', {
        requireHeader: { name: 'X-Upstream-Key', value: upstreamKey },
      });
      upstreams.push(upstream);
      const { slug } = await p.admin.createTenant('ui-src');
      const tenantAdmin = await p.admin.createKey(slug, {
        name: 'admin',
        scopes: ['tenant:admin'],
      });
      await signIn(tenantAdmin.secret, slug);
      await page.goto(`/console/tenants/${slug}/sources`);
      await page.getByText('No sources yet: add one below.').waitFor();

      await page.getByLabel('Name', { exact: true }).fill('up');
      await expect(page.getByLabel('Kind').inputValue()).resolves.toBe('mcp');
      await page.getByLabel('MCP URL').fill(upstream.url);
      await page.getByLabel('Transport').selectOption('streamable-http');
      await page.getByRole('button', { name: 'Add header' }).click();
      await page.getByLabel('Header 1 name').fill('X-Upstream-Key');
      await expect(page.getByLabel('Header 1 value').getAttribute('type')).resolves.toBe(
        'password',
      );
      await page.getByLabel('Header 1 value').fill(upstreamKey);
      await page.getByLabel('Scopes').fill('up:use');
      await page.getByRole('button', { name: 'Add source' }).click();
      const added = page.getByRole('region', { name: 'Add a source' }).getByRole('status');
      expect(await added.textContent()).toBe('Added up with 5 tools.');
      // The form is emptied: the secret is not left in it.
      await expect(page.getByLabel('Name', { exact: true }).inputValue()).resolves.toBe('');
      await expect(page.getByLabel('Header 1 value').count()).resolves.toBe(0);

      const row = sourceRow('up');
      await row.waitFor();
      expect(await row.textContent()).toMatch(/MCP server.*up_.*enabled.*5.*healthy/);
      await row.getByRole('button', { name: 'Details' }).click();
      const details = page.locator('[data-source-details="up"]');
      expect(await details.locator('tr[data-tool="up_echo"]').textContent()).toMatch(
        /up_echo.*echo.*up:use/,
      );
      expect(await details.textContent()).toContain('X-Upstream-Key');
      expect(await details.textContent()).toContain('streamable-http');
      expect(await page.content()).not.toContain(upstreamKey);

      // A key with the source's scope lists and calls its tools; the upstream got its header.
      const key = (await p.admin.createKey(slug, { scopes: ['up:use'] })).secret;
      const client = await p.connect(slug, bearer(key));
      expect(await sourced(client, 'up')).toEqual([
        'up_add',
        'up_echo',
        'up_fail',
        'up_headers',
        'up_slow',
      ]);
      expect(textOf(await client.callTool({ name: 'up_echo', arguments: { text: 'hi' } }))).toBe(
        'echo: hi',
      );
      expect(upstream.calls.at(-1)?.headers['x-upstream-key']).toBe(upstreamKey);
      await screenshot(page, '21-sources-mcp');

      // A tool added upstream appears on Refresh, on the page and in the client's list.
      upstream.addTool('extra');
      await row.getByRole('button', { name: 'Refresh' }).click();
      const rowStatus = page.locator('[data-source-status="up"]').getByRole('status');
      expect(await rowStatus.textContent()).toBe('Tools of up read again: 6 tools.');
      await details.locator('tr[data-tool="up_extra"]').waitFor();
      await listsSourced(client, 'up', [
        'up_add',
        'up_echo',
        'up_extra',
        'up_fail',
        'up_headers',
        'up_slow',
      ]);

      // Disabled: its tools leave the catalog; enabled: they are back.
      await row.getByRole('button', { name: 'Disable' }).click();
      await row.getByText('disabled', { exact: true }).waitFor();
      await listsSourced(client, 'up', []);
      await row.getByRole('button', { name: 'Enable' }).click();
      await row.getByText('enabled', { exact: true }).waitFor();
      await listsSourced(client, 'up', [
        'up_add',
        'up_echo',
        'up_extra',
        'up_fail',
        'up_headers',
        'up_slow',
      ]);

      // Delete behind the typed name: gone from the page and from the client's list.
      await row.getByRole('button', { name: 'Delete' }).click();
      const confirm = page.getByRole('button', { name: 'Delete source' });
      await expect(confirm.isDisabled()).resolves.toBe(true);
      await page.getByLabel(/to confirm/).fill('up');
      await confirm.click();
      await page.getByText('Source up deleted: its tools are gone from the catalog.').waitFor();
      await expect(sourceRow('up').count()).resolves.toBe(0);
      await listsSourced(client, 'up', []);
      const left = (await p.admin.request('GET', `/admin/tenants/${slug}/sources`)).json as {
        items: unknown[];
      };
      expect(left.items).toEqual([]);
      await screenshot(page, '22-sources-deleted');
    });

    it('refusals are shown: a bad name and a private address next to their fields, an upstream that cannot be read in the form', async () => {
      const { slug } = await p.admin.createTenant('ui-src-bad');
      await signIn(ADMIN_TOKEN);
      await page.goto(`/console/tenants/${slug}/sources`);
      const form = page.getByRole('region', { name: 'Add a source' });
      await form.getByLabel('Name', { exact: true }).fill('Not A Name');
      await form.getByLabel('MCP URL').fill('http://10.0.0.5:8080/mcp');
      await form.getByRole('button', { name: 'Add source' }).click();
      await form.locator('[data-field="name"]').waitFor();
      expect(await form.locator('[data-field="name"]').textContent()).toMatch(
        /lowercase letters, digits or dashes/,
      );

      // The egress policy refuses a private address before any connection.
      await form.getByLabel('Name', { exact: true }).fill('private');
      await form.getByRole('button', { name: 'Add source' }).click();
      const urlError = form.locator('[data-field="url"]');
      await urlError.waitFor();
      expect(await urlError.textContent()).toMatch(
        /10\.0\.0\.5.*is not allowed: .*private address/,
      );
      // The rest of the message (what the operator can do) is shown in full above the button.
      expect(await form.getByRole('alert').last().textContent()).toMatch(/EGRESS_ALLOW/);
      await expect(form.locator('[data-field="name"]').count()).resolves.toBe(0);

      // Nothing listens there: a 502 with the reason, nothing saved.
      const closed = await freePort();
      await form.getByLabel('MCP URL').fill(`http://127.0.0.1:${closed}/mcp`);
      await form.getByRole('button', { name: 'Add source' }).click();
      const alert = form.getByRole('alert');
      await alert.getByText(/Refused \(502\)/).waitFor();
      expect(await alert.textContent()).toMatch(/nothing was saved/);
      await expect(form.locator('[data-field="url"]').count()).resolves.toBe(0);
      await expect(page.getByText('No sources yet: add one below.').isVisible()).resolves.toBe(
        true,
      );
      const listed = (await p.admin.request('GET', `/admin/tenants/${slug}/sources`)).json as {
        items: unknown[];
      };
      expect(listed.items).toEqual([]);
      await screenshot(page, '23-sources-refused');
    });

    it('an OpenAPI service from a pasted YAML document with its API key: its operations become tools a client calls', async () => {
      const apiKey = secret();
      const api: PetApi = await startPetApi({ apiKey });
      upstreams.push(api);
      const { slug } = await p.admin.createTenant('ui-oas');
      await signIn(ADMIN_TOKEN);
      await page.goto(`/console/tenants/${slug}/sources`);
      const form = page.getByRole('region', { name: 'Add a source' });
      await form.getByLabel('Name', { exact: true }).fill('pets');
      await form.getByLabel('Kind').selectOption({ label: 'OpenAPI service' });
      await expect(form.getByLabel('MCP URL').count()).resolves.toBe(0);
      await form.getByLabel('Document (JSON or YAML)').fill(api.yaml);
      await form.getByLabel('Base URL').fill(api.url);
      await form.getByLabel('Credential header').fill('X-Api-Key');
      await expect(form.getByLabel('Credential value').getAttribute('type')).resolves.toBe(
        'password',
      );
      await form.getByLabel('Credential value').fill(apiKey);
      await form.getByLabel('Prefix').fill('pet');
      await form.getByRole('button', { name: 'Add source' }).click();
      expect(await form.getByRole('status').textContent()).toBe('Added pets with 8 tools.');

      const row = sourceRow('pets');
      expect(await row.textContent()).toMatch(/OpenAPI service.*pet_.*enabled.*8/);
      await row.getByRole('button', { name: 'Details' }).click();
      const details = page.locator('[data-source-details="pets"]');
      expect(await details.textContent()).toMatch(/header X-Api-Key \(value write-only\)/);
      expect(await details.textContent()).toMatch(/given inline/);
      await details.locator('tr[data-tool="pet_listPets"]').waitFor();
      expect(await page.content()).not.toContain(apiKey);

      const key = (await p.admin.createKey(slug, { scopes: [] })).secret;
      const client = await p.connect(slug, bearer(key));
      expect(await toolNames(client)).toEqual(
        expect.arrayContaining(['pet_listPets', 'pet_getPet']),
      );
      const listedPets = await client.callTool({ name: 'pet_listPets', arguments: {} });
      expect((listedPets as CallResult).isError).toBeFalsy();
      expect(api.requests.at(-1)?.headers['x-api-key']).toBe(apiKey);
      await screenshot(page, '24-sources-openapi');
    });
  });
});
