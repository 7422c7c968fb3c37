import { bearer } from './support/admin';
import { rawCall } from './support/mcp';
import { useOidcProvider } from './support/oidc-provider';
import { PlatformProcess, spawnPlatform, useProcesses } from './support/processes';

const KEY_A = 'a'.repeat(20) + 'rotation-key-one-0123';
const KEY_B = 'b'.repeat(20) + 'rotation-key-two-4567';
/** One public URL for every process, so a token's audience holds across restarts. */
const PUBLIC_URL = 'http://mcp.rotation.test';

/**
 * A tenant's introspection client secret is sealed at rest under SECRETS_KEY. After a rotation
 * (SECRETS_KEY new, SECRETS_KEY_PREVIOUS the old one) a start re-seals it, so the old key can be
 * dropped: the platform then still introspects with it. Without the re-seal the last start below
 * could not open the secret and every opaque token would be a 503.
 */
describe('replicas: the introspection client secret across a SECRETS_KEY rotation', () => {
  const ops = useProcesses();
  const op = useOidcProvider({ format: () => 'opaque' });
  let running: PlatformProcess | undefined;

  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  const start = async (env: Record<string, string>) => {
    running = await spawnPlatform(
      { DATABASE_URL: ops.pg.url, PUBLIC_URL, MCP_STATELESS: 'true', ...env },
      { name: 'rotation', waitForReady: true },
    );
    return running;
  };

  const whoami = async (p: PlatformProcess, slug: string, token: string) => {
    const res = await rawCall(p, slug, 'whoami', {}, bearer(token));
    if (res.status !== 200) throw new Error(`${p.name}: ${res.status} ${res.text.slice(0, 300)}`);
    return res.messages[0]?.result?.structuredContent as { kind: string; scopes: string[] };
  };

  it('re-seals it at start under the new key; the old key can then go', async () => {
    const first = await start({ SECRETS_KEY: KEY_A });
    const { slug } = await first.admin.createTenant('rot');
    const put = await first.admin.request('PUT', `/admin/tenants/${slug}/auth`, {
      introspection: op.introspectionSettings(),
    });
    expect(put.status).toBe(200);
    const resource = `${PUBLIC_URL}/t/${slug}/mcp`;
    expect(
      await whoami(first, slug, await op.token({ resource, scope: 'math:use' })),
    ).toMatchObject({ kind: 'introspection', scopes: ['math:use'] });
    await first.stop();

    // Rotated: the new key, with the old one kept for this start.
    const second = await start({ SECRETS_KEY: KEY_B, SECRETS_KEY_PREVIOUS: KEY_A });
    expect(second.output()).not.toMatch(/does not open/);
    expect(
      await whoami(second, slug, await op.token({ resource, scope: 'notes:read' })),
    ).toMatchObject({ kind: 'introspection', scopes: ['notes:read'] });
    await second.stop();

    // The old key gone: the secret was sealed again under the new one.
    const third = await start({ SECRETS_KEY: KEY_B });
    expect(
      await whoami(third, slug, await op.token({ resource, scope: 'math:use' })),
    ).toMatchObject({ kind: 'introspection', scopes: ['math:use'] });
    // The write-only secret is still not shown.
    const auth = await third.admin.request('GET', `/admin/tenants/${slug}/auth`);
    expect(auth.json).toMatchObject({ introspection: { clientSecretSet: true } });
    expect(auth.text).not.toContain(op.introspectionClient.clientSecret);
  });

  it('without the old key a secret sealed under it cannot be used: a 503, never an accept, until it is sent again', async () => {
    const first = await start({ SECRETS_KEY: KEY_A });
    const { slug } = await first.admin.createTenant('rot');
    await first.admin.request('PUT', `/admin/tenants/${slug}/auth`, {
      introspection: op.introspectionSettings(),
    });
    await first.stop();

    const second = await start({ SECRETS_KEY: KEY_B });
    const token = await op.token({ resource: `${PUBLIC_URL}/t/${slug}/mcp`, scope: 'math:use' });
    const res = await rawCall(second, slug, 'whoami', {}, bearer(token));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);

    // A PUT that keeps the stored secret is a 400 saying to send it again, not a 500 …
    const { clientSecret, ...withoutSecret } = op.introspectionSettings() as {
      clientSecret: string;
    };
    const kept = await second.admin.request('PUT', `/admin/tenants/${slug}/auth`, {
      introspection: withoutSecret,
    });
    expect(kept.status).toBe(400);
    expect(kept.json).toMatchObject({
      message: expect.stringMatching(/clientSecret.*send it again/),
    });
    // … and sending it again mends the tenant.
    const again = await second.admin.request('PUT', `/admin/tenants/${slug}/auth`, {
      introspection: { ...withoutSecret, clientSecret },
    });
    expect(again.status).toBe(200);
    expect(await whoami(second, slug, token)).toMatchObject({ kind: 'introspection' });
  });
});
