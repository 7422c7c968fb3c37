import { ADMIN, startPlatform, TestPlatform } from './support/platform';
import { bearer, connect, createTenant, toolNames } from './support/mcp';
import { TestIdp } from './support/idp';

describe('JWT bearer tokens from a tenant identity provider', () => {
  let p: TestPlatform;
  let idp: TestIdp;
  let tenant: { slug: string; id: string };
  const aud = () => `${p.config.publicUrl}/t/${tenant.slug}/mcp`;

  beforeAll(async () => {
    p = await startPlatform();
    idp = await TestIdp.start();
    tenant = await createTenant(p, 'jwt');
    await p
      .http()
      .put(`/admin/tenants/${tenant.slug}/auth`)
      .set(ADMIN)
      .send({ jwt: { issuer: idp.issuer, jwksUri: idp.jwksUri } })
      .expect(200);
  });
  afterAll(async () => {
    await p.close();
    await idp.stop();
  });

  it('lets an SDK client in with a token for the tenant resource, scopes from `scope`', async () => {
    const token = idp.sign({ aud: aud(), scope: 'math:use notes:read' });
    const client = await connect(p, tenant.slug, bearer(token));
    try {
      expect(await toolNames(client)).toEqual([
        'add',
        'echo',
        'notes_get',
        'notes_list',
        'notes_search',
        'subtract',
        'whoami',
      ]);
      const who = await client.callTool({ name: 'whoami', arguments: {} });
      expect(who.structuredContent).toMatchObject({
        tenant: tenant.slug,
        kind: 'jwt',
        id: `${idp.issuer}#user-1`,
        scopes: ['math:use', 'notes:read'],
      });
    } finally {
      await client.close();
    }
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
    const token = idp.sign({ aud: aud(), scope: 'tenant:admin' });
    await p.http().get(`/admin/tenants/${tenant.slug}/keys`).set(bearer(token)).expect(200);
    await p.http().get('/admin/tenants').set(bearer(token)).expect(401);
  });
});
