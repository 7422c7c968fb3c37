import { usePlatform } from './support/platform';
import { bearer, builtInToolNames, builtInToolsFor } from './support/mcp';
import { TestIdp } from './support/idp';
import { tenantWithIdp } from './support/hostile';

describe('JWT bearer tokens from a tenant identity provider', () => {
  const p = usePlatform();
  let idp: TestIdp;
  let tenant: { slug: string; aud: string };

  beforeAll(async () => {
    idp = await TestIdp.start();
    tenant = await tenantWithIdp(p, idp);
  });
  afterAll(() => idp.stop());

  it('lets an SDK client in with a token for the tenant resource, scopes from `scope`', async () => {
    const token = idp.sign({ aud: tenant.aud, scope: 'math:use notes:read' });
    const client = await p.connect(tenant.slug, bearer(token));
    expect(await builtInToolNames(client)).toEqual(builtInToolsFor(['math:use', 'notes:read']));
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect(who.structuredContent).toMatchObject({
      tenant: tenant.slug,
      kind: 'jwt',
      id: `${idp.issuer}#user-1`,
      scopes: ['math:use', 'notes:read'],
    });
  });

  it('names the issuer in the resource metadata', async () => {
    const res = await p
      .http()
      .get(`/.well-known/oauth-protected-resource/t/${tenant.slug}/mcp`)
      .expect(200);
    expect(res.body.authorization_servers).toEqual([idp.issuer]);
  });

  it('refuses a token whose audience is another resource', async () => {
    const token = idp.sign({ aud: 'https://elsewhere.example/mcp' });
    const res = await p
      .http()
      .post(`/t/${tenant.slug}/mcp`)
      .set(bearer(token))
      .send({})
      .expect(401);
    expect(res.body.message).toMatch(/audience/);
    expect(res.headers['www-authenticate']).toContain('resource_metadata=');
  });

  it('lets a token with tenant:admin administer its own tenant only', async () => {
    const token = idp.sign({ aud: tenant.aud, scope: 'tenant:admin' });
    await p.http().get(`/admin/tenants/${tenant.slug}/keys`).set(bearer(token)).expect(200);
    await p.http().get('/admin/tenants').set(bearer(token)).expect(401);
  });
});
