import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { formatApiKey, parseApiKey } from '@app/tenancy';
import { ADMIN, startPlatform, TestPlatform } from './support/platform';
import { bearer, connect, createKey, createTenant, tenantWithKey } from './support/mcp';
import {
  initializeRequest,
  rawInitialize,
  rawMcp,
  rawPost,
  rejectionOf,
  resourceMetadataFor,
  toolsCall,
  within,
} from './support/mcp-raw';

describe('MCP endpoint authentication', () => {
  let p: TestPlatform;
  const clients: Client[] = [];
  const open = async (slug: string, headers: Record<string, string>) => {
    const c = await connect(p, slug, headers);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    p = await startPlatform();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await p.close();
  });

  const expectChallenge = (res: { status: number; headers: Headers }, slug: string) => {
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${resourceMetadataFor(p, slug)}"`,
    );
  };

  describe('refused credentials', () => {
    it('answers a request without credentials with 401 and a resource-metadata challenge', async () => {
      const t = await createTenant(p);
      const res = await rawPost(p, t.slug, initializeRequest());
      expectChallenge(res, t.slug);
      expect(res.json).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      expect(resourceMetadataFor(p, t.slug)).toBe(
        `${p.config.publicUrl}/.well-known/oauth-protected-resource/t/${t.slug}/mcp`,
      );
    });

    it('refuses a key with the right id but a wrong secret, an unknown key and a malformed key', async () => {
      const t = await tenantWithKey(p, []);
      const parsed = parseApiKey(t.key)!;
      expect(parsed).not.toBeNull();
      const wrongSecret = formatApiKey(parsed.keyId, 'A'.repeat(32));
      const unknownId = formatApiKey('Z'.repeat(12), parsed.secret);
      const truncated = t.key.slice(0, -1);
      for (const key of [
        wrongSecret,
        unknownId,
        truncated,
        'mcp_not-a-key',
        'not-a-token',
        'eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
      ]) {
        const res = await rawPost(p, t.slug, initializeRequest(), bearer(key));
        expectChallenge(res, t.slug);
      }
      const basic = await rawPost(p, t.slug, initializeRequest(), {
        Authorization: `Basic ${Buffer.from('u:p').toString('base64')}`,
      });
      expectChallenge(basic, t.slug);
      // The real key still works: the refusals were about the credentials, not the tenant.
      expect((await rawPost(p, t.slug, initializeRequest(), bearer(t.key))).status).toBe(200);
    });

    it('refuses a key passed in the query string, telling the caller to use a header', async () => {
      const t = await tenantWithKey(p, []);
      const res = await rawMcp(p, t.slug, {
        path: `mcp?api_key=${encodeURIComponent(t.key)}`,
        headers: {
          Accept: 'application/json, text/event-stream',
          'Content-Type': 'application/json',
        },
        body: initializeRequest(),
      });
      expectChallenge(res, t.slug);
      expect((res.json as { message: string }).message).toMatch(/header/i);
    });

    it('refuses a key of another tenant with 401 and the challenge of the tenant asked for', async () => {
      const a = await tenantWithKey(p, ['math:use']);
      const b = await tenantWithKey(p, ['math:use']);
      const res = await rawPost(p, b.slug, initializeRequest(), bearer(a.key));
      expectChallenge(res, b.slug);
      await expect(open(b.slug, bearer(a.key))).rejects.toMatchObject({ code: 401 });
    });

    it('answers 404 for a tenant that does not exist, with or without a key', async () => {
      const t = await tenantWithKey(p, []);
      const missing = `${t.slug}-gone`;
      expect((await rawPost(p, missing, initializeRequest())).status).toBe(404);
      const withKey = await rawPost(p, missing, initializeRequest(), bearer(t.key));
      expect(withKey.status).toBe(404);
      expect(withKey.json).toMatchObject({ statusCode: 404 });
    });

    it('refuses the platform admin token on a tenant endpoint with 403', async () => {
      const t = await createTenant(p);
      const res = await rawPost(p, t.slug, initializeRequest(), ADMIN);
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    });

    it('never lets a session id stand in for credentials', async () => {
      const t = await tenantWithKey(p, ['math:use']);
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const noAuth = Object.fromEntries(
        Object.entries(s.headers).filter(([name]) => name !== 'Authorization'),
      );
      expect(noAuth['Mcp-Session-Id']).toBe(s.id);
      const res = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), noAuth);
      expectChallenge(res, t.slug);
      const ok = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), s.headers);
      expect(ok.status).toBe(200);
      expect(ok.messages[0]?.result).toMatchObject({ structuredContent: { result: 3 } });
    });
  });

  describe('accepted credentials', () => {
    it('accepts the key in an X-API-Key header', async () => {
      const t = await tenantWithKey(p, ['math:use']);
      const c = await open(t.slug, { 'X-API-Key': t.key });
      const who = await c.callTool({ name: 'whoami', arguments: {} });
      expect(who.structuredContent).toMatchObject({ tenant: t.slug, id: t.keyId });
      const sum = await c.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
      expect(sum.structuredContent).toEqual({ result: 2 });
    });
  });

  describe('tenant status and key lifetime', () => {
    it('answers 403 for a suspended tenant and serves it again once reactivated', async () => {
      const t = await tenantWithKey(p, []);
      const before = await open(t.slug, bearer(t.key));
      await before.callTool({ name: 'echo', arguments: { text: 'x' } });
      await p
        .http()
        .patch(`/admin/tenants/${t.slug}`)
        .set(ADMIN)
        .send({ status: 'suspended' })
        .expect(200);
      const res = await rawPost(p, t.slug, initializeRequest(), bearer(t.key));
      expect(res.status).toBe(403);
      expect((res.json as { message: string }).message).toMatch(/suspended/);
      const err = await rejectionOf(before.callTool({ name: 'echo', arguments: { text: 'x' } }));
      expect(err.code).toBe(403);
      await p
        .http()
        .patch(`/admin/tenants/${t.slug}`)
        .set(ADMIN)
        .send({ status: 'active' })
        .expect(200);
      expect((await rawPost(p, t.slug, initializeRequest(), bearer(t.key))).status).toBe(200);
    });

    it('refuses a key once it has expired', async () => {
      const t = await createTenant(p);
      const expiresAt = new Date(Date.now() + 2000);
      const k = await createKey(p, t.slug, { scopes: [], expiresAt: expiresAt.toISOString() });
      const c = await open(t.slug, bearer(k.key));
      expect((await c.callTool({ name: 'echo', arguments: { text: 'hi' } })).content).toEqual([
        { type: 'text', text: 'hi' },
      ]);
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt.getTime() - Date.now() + 200)));
      const res = await rawPost(p, t.slug, initializeRequest(), bearer(k.key));
      expectChallenge(res, t.slug);
      expect((res.json as { message: string }).message).toMatch(/expired/);
      const err = await rejectionOf(c.callTool({ name: 'echo', arguments: { text: 'hi' } }));
      expect(err.code).toBe(401);
    });
  });

  describe('revocation and rotation', () => {
    it('stops a revoked key inside an already open session within a second', async () => {
      const t = await tenantWithKey(p, ['math:use']);
      const c = await open(t.slug, bearer(t.key));
      expect(
        (await c.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).structuredContent,
      ).toEqual({ result: 3 });
      await p.http().post(`/admin/tenants/${t.slug}/keys/${t.keyId}/revoke`).set(ADMIN).expect(200);
      const err = await within(1000, async () => {
        try {
          await c.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
          return undefined;
        } catch (e) {
          return e as Error & { code?: number };
        }
      });
      expect(err.code).toBe(401);
      const raw = await rawPost(p, t.slug, initializeRequest(), bearer(t.key));
      expectChallenge(raw, t.slug);
      expect((raw.json as { message: string }).message).toMatch(/revoked/);
    });

    it('rotating with graceSeconds 0 stops the old secret at once', async () => {
      const t = await tenantWithKey(p, ['math:use']);
      const old = await open(t.slug, bearer(t.key));
      await old.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
      const rotated = await p
        .http()
        .post(`/admin/tenants/${t.slug}/keys/${t.keyId}/rotate`)
        .set(ADMIN)
        .send({ graceSeconds: 0 })
        .expect(201);
      const newKey = rotated.body.secret as string;
      expect(newKey).not.toBe(t.key);
      const err = await rejectionOf(old.callTool({ name: 'add', arguments: { a: 1, b: 1 } }));
      expect(err.code).toBe(401);
      expectChallenge(await rawPost(p, t.slug, initializeRequest(), bearer(t.key)), t.slug);
      const fresh = await open(t.slug, bearer(newKey));
      expect(
        (await fresh.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).structuredContent,
      ).toEqual({ result: 5 });
      expect(
        (await fresh.callTool({ name: 'whoami', arguments: {} })).structuredContent,
      ).toMatchObject({ id: t.keyId });
    });

    it('rotating with graceSeconds 60 keeps the old secret working next to the new one', async () => {
      const t = await tenantWithKey(p, ['math:use']);
      const old = await open(t.slug, bearer(t.key));
      await old.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
      const rotated = await p
        .http()
        .post(`/admin/tenants/${t.slug}/keys/${t.keyId}/rotate`)
        .set(ADMIN)
        .send({ graceSeconds: 60 })
        .expect(201);
      const newKey = rotated.body.secret as string;
      expect(
        (await old.callTool({ name: 'add', arguments: { a: 4, b: 4 } })).structuredContent,
      ).toEqual({ result: 8 });
      expect((await rawPost(p, t.slug, initializeRequest(), bearer(t.key))).status).toBe(200);
      const fresh = await open(t.slug, bearer(newKey));
      expect(
        (await fresh.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).structuredContent,
      ).toEqual({ result: 5 });
    });
  });

  it('the old secret stops working once the grace period is over', async () => {
    const t = await tenantWithKey(p, []);
    const rotated = await p
      .http()
      .post(`/admin/tenants/${t.slug}/keys/${t.keyId}/rotate`)
      .set(ADMIN)
      .send({ graceSeconds: 1 })
      .expect(201);
    const until = Date.parse(rotated.body.previousSecretValidUntil);
    expect(until).toBeGreaterThan(Date.now());
    expect((await rawPost(p, t.slug, initializeRequest(), bearer(t.key))).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now() + 200)));
    expectChallenge(await rawPost(p, t.slug, initializeRequest(), bearer(t.key)), t.slug);
    expect(
      (await rawPost(p, t.slug, initializeRequest(), bearer(rotated.body.secret))).status,
    ).toBe(200);
  });

  it('stops a revoked key on the legacy SSE transport too', async () => {
    const t = await tenantWithKey(p, []);
    const c = await connect(p, t.slug, bearer(t.key), 'sse');
    clients.push(c);
    await c.callTool({ name: 'echo', arguments: { text: 'x' } });
    await p.http().post(`/admin/tenants/${t.slug}/keys/${t.keyId}/revoke`).set(ADMIN).expect(200);
    const failed = await within(1000, async () => {
      try {
        await c.callTool({ name: 'echo', arguments: { text: 'x' } });
        return undefined;
      } catch (e) {
        return e as Error;
      }
    });
    expect(failed.message).toMatch(/401|Unauthorized/i);
  });

  it('answers 404 once the tenant is deleted, even inside an open session', async () => {
    const t = await tenantWithKey(p, []);
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    await p.http().delete(`/admin/tenants/${t.slug}`).set(ADMIN).expect(204);
    const res = await rawPost(p, t.slug, toolsCall('echo', { text: 'x' }), s.headers);
    expect(res.status).toBe(404);
    // A new tenant under the same slug inherits neither the keys nor the sessions.
    await p
      .http()
      .post('/admin/tenants')
      .set(ADMIN)
      .send({ slug: t.slug, name: 'again' })
      .expect(201);
    expectChallenge(await rawPost(p, t.slug, toolsCall('echo', { text: 'x' }), s.headers), t.slug);
    const k = await createKey(p, t.slug, { scopes: [] });
    const reused = await rawPost(p, t.slug, toolsCall('echo', { text: 'x' }), {
      ...s.headers,
      ...bearer(k.key),
    });
    expect(reused.status).toBe(404);
  });

  describe('RFC 9728 protected resource metadata', () => {
    it('is public and describes the tenant’s MCP resource', async () => {
      const t = await createTenant(p);
      const res = await p.http().get(`/.well-known/oauth-protected-resource/t/${t.slug}/mcp`);
      expect(res.status).toBe(200);
      expect(res.body.resource).toBe(`${p.config.publicUrl}/t/${t.slug}/mcp`);
      expect(res.body.scopes_supported).toEqual(
        expect.arrayContaining(['math:use', 'notes:read', 'notes:write', 'tenant:admin']),
      );
      expect(res.body.bearer_methods_supported).toEqual(['header']);
    });

    it('the 401 challenge points at a document that exists', async () => {
      const t = await createTenant(p);
      const res = await rawPost(p, t.slug, initializeRequest());
      const url = /resource_metadata="([^"]+)"/.exec(
        res.headers.get('www-authenticate') ?? '',
      )?.[1];
      expect(url).toBeDefined();
      const doc = await p.http().get(new URL(url!).pathname).expect(200);
      expect(doc.body.resource).toBe(`${p.config.publicUrl}/t/${t.slug}/mcp`);
    });

    it('answers 404 for an unknown tenant', async () => {
      const t = await createTenant(p);
      await p.http().get(`/.well-known/oauth-protected-resource/t/${t.slug}-nope/mcp`).expect(404);
    });
  });
});
