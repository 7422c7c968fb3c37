import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { formatApiKey, parseApiKey } from '@app/tenancy';
import { pollUntil, rejectionOf } from './support/http';
import {
  bearer,
  initializeRequest,
  MCP_POST_HEADERS,
  rawInitialize,
  rawMcp,
  rawPost,
  resourceMetadataUrl,
  toolsCall,
  TransportKind,
} from './support/mcp';
import { ADMIN, usePlatform } from './support/platform';

/** The error of the first call that fails within `ms` (polling), for a credential taken away. */
const firstFailure = (c: Client, ms: number, call = { name: 'echo', arguments: { text: 'x' } }) =>
  pollUntil(ms, `a call of ${call.name} failing`, () =>
    c.callTool(call).then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    ),
  );

describe('MCP endpoint authentication', () => {
  const p = usePlatform();
  const open = (slug: string, headers: Record<string, string>, kind?: TransportKind) =>
    p.connect(slug, headers, kind);
  const initializeWith = (slug: string, key: string) =>
    rawPost(p, slug, initializeRequest(), bearer(key));

  const expectChallenge = (res: { status: number; headers: Headers }, slug: string) => {
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${resourceMetadataUrl(p, slug)}"`,
    );
  };

  describe('refused credentials', () => {
    it('answers a request without credentials with 401 and a resource-metadata challenge', async () => {
      const t = await p.admin.createTenant();
      const res = await rawPost(p, t.slug, initializeRequest());
      expectChallenge(res, t.slug);
      expect(res.json).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      expect(resourceMetadataUrl(p, t.slug)).toBe(
        `${p.config.publicUrl}/.well-known/oauth-protected-resource/t/${t.slug}/mcp`,
      );
    });

    it('refuses a key with the right id but a wrong secret, an unknown key and a malformed key', async () => {
      const t = await p.admin.tenantWithKey([]);
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
        expectChallenge(await initializeWith(t.slug, key), t.slug);
      }
      const basic = await rawPost(p, t.slug, initializeRequest(), {
        Authorization: `Basic ${Buffer.from('u:p').toString('base64')}`,
      });
      expectChallenge(basic, t.slug);
      // The real key still works: the refusals were about the credentials, not the tenant.
      expect((await initializeWith(t.slug, t.key)).status).toBe(200);
    });

    it('refuses a key passed in the query string, telling the caller to use a header', async () => {
      const t = await p.admin.tenantWithKey([]);
      const res = await rawMcp(p, t.slug, {
        path: `mcp?api_key=${encodeURIComponent(t.key)}`,
        headers: MCP_POST_HEADERS,
        body: initializeRequest(),
      });
      expectChallenge(res, t.slug);
      expect((res.json as { message: string }).message).toMatch(/header/i);
    });

    it('refuses a key of another tenant with 401 and the challenge of the tenant asked for', async () => {
      const a = await p.admin.tenantWithKey(['math:use']);
      const b = await p.admin.tenantWithKey(['math:use']);
      expectChallenge(await initializeWith(b.slug, a.key), b.slug);
      await expect(open(b.slug, bearer(a.key))).rejects.toMatchObject({ code: 401 });
    });

    it('answers 404 for a tenant that does not exist, with or without a key', async () => {
      const t = await p.admin.tenantWithKey([]);
      const missing = `${t.slug}-gone`;
      expect((await rawPost(p, missing, initializeRequest())).status).toBe(404);
      const withKey = await initializeWith(missing, t.key);
      expect(withKey.status).toBe(404);
      expect(withKey.json).toMatchObject({ statusCode: 404 });
    });

    it('refuses the platform admin token on a tenant endpoint with 403', async () => {
      const t = await p.admin.createTenant();
      const res = await rawPost(p, t.slug, initializeRequest(), ADMIN);
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    });

    it('never lets a session id stand in for credentials', async () => {
      const t = await p.admin.tenantWithKey(['math:use']);
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
      const t = await p.admin.tenantWithKey(['math:use']);
      const c = await open(t.slug, { 'X-API-Key': t.key });
      const who = await c.callTool({ name: 'whoami', arguments: {} });
      expect(who.structuredContent).toMatchObject({ tenant: t.slug, id: t.keyId });
      const sum = await c.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
      expect(sum.structuredContent).toEqual({ result: 2 });
    });
  });

  describe('tenant status and key lifetime', () => {
    it('answers 403 for a suspended tenant and serves it again once reactivated', async () => {
      const t = await p.admin.tenantWithKey([]);
      const before = await open(t.slug, bearer(t.key));
      await before.callTool({ name: 'echo', arguments: { text: 'x' } });
      await p.admin.patchTenant(t.slug, { status: 'suspended' });
      const res = await initializeWith(t.slug, t.key);
      expect(res.status).toBe(403);
      expect((res.json as { message: string }).message).toMatch(/suspended/);
      const err = await rejectionOf(before.callTool({ name: 'echo', arguments: { text: 'x' } }));
      expect(err.code).toBe(403);
      await p.admin.patchTenant(t.slug, { status: 'active' });
      expect((await initializeWith(t.slug, t.key)).status).toBe(200);
    });

    it('refuses a key once it has expired', async () => {
      const t = await p.admin.createTenant();
      const expiresAt = new Date(Date.now() + 2000);
      const k = await p.admin.createKey(t.slug, { expiresAt: expiresAt.toISOString() });
      const c = await open(t.slug, bearer(k.secret));
      expect((await c.callTool({ name: 'echo', arguments: { text: 'hi' } })).content).toEqual([
        { type: 'text', text: 'hi' },
      ]);
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt.getTime() - Date.now() + 200)));
      const res = await initializeWith(t.slug, k.secret);
      expectChallenge(res, t.slug);
      expect((res.json as { message: string }).message).toMatch(/expired/);
      const err = await rejectionOf(c.callTool({ name: 'echo', arguments: { text: 'hi' } }));
      expect(err.code).toBe(401);
    });
  });

  describe('revocation and rotation', () => {
    const add = (c: Client, a: number, b: number) =>
      c.callTool({ name: 'add', arguments: { a, b } }).then((r) => r.structuredContent);

    it.each<[TransportKind, (err: Error & { code?: number }) => void]>([
      ['streamable', (err) => expect(err.code).toBe(401)],
      // The SSE transport's error has no code: the status is in its message.
      ['sse', (err) => expect(err.message).toMatch(/401|Unauthorized/i)],
    ])(
      'stops a revoked key inside an already open %s session within a second',
      async (kind, expectUnauthorized) => {
        const t = await p.admin.tenantWithKey(['math:use']);
        const c = await open(t.slug, bearer(t.key), kind);
        expect(await add(c, 1, 2)).toEqual({ result: 3 });
        await p.admin.revokeKey(t.slug, t.keyId);
        expectUnauthorized(await firstFailure(c, 1000));
        const raw = await initializeWith(t.slug, t.key);
        expectChallenge(raw, t.slug);
        expect((raw.json as { message: string }).message).toMatch(/revoked/);
      },
    );

    /** A key in use by an open session, then rotated with `graceSeconds`. */
    const rotatedInUse = async (graceSeconds: number) => {
      const t = await p.admin.tenantWithKey(['math:use']);
      const old = await open(t.slug, bearer(t.key));
      expect(await add(old, 1, 1)).toEqual({ result: 2 });
      const rotated = await p.admin.rotateKey(t.slug, t.keyId, { graceSeconds });
      expect(rotated.secret).not.toBe(t.key);
      const fresh = await open(t.slug, bearer(rotated.secret));
      expect(await add(fresh, 2, 3)).toEqual({ result: 5 });
      return { t, old, fresh };
    };

    it('rotating with graceSeconds 0 stops the old secret at once', async () => {
      const { t, old, fresh } = await rotatedInUse(0);
      const err = await rejectionOf(add(old, 1, 1));
      expect(err.code).toBe(401);
      expectChallenge(await initializeWith(t.slug, t.key), t.slug);
      expect(
        (await fresh.callTool({ name: 'whoami', arguments: {} })).structuredContent,
      ).toMatchObject({ id: t.keyId });
    });

    it('rotating with graceSeconds 60 keeps the old secret working next to the new one', async () => {
      const { t, old } = await rotatedInUse(60);
      expect(await add(old, 4, 4)).toEqual({ result: 8 });
      expect((await initializeWith(t.slug, t.key)).status).toBe(200);
    });

    it('the old secret stops working once the grace period is over', async () => {
      const t = await p.admin.tenantWithKey([]);
      const rotated = await p.admin.rotateKey(t.slug, t.keyId, { graceSeconds: 1 });
      const until = Date.parse(rotated.previousSecretValidUntil!);
      expect(until).toBeGreaterThan(Date.now());
      expect((await initializeWith(t.slug, t.key)).status).toBe(200);
      await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now() + 200)));
      expectChallenge(await initializeWith(t.slug, t.key), t.slug);
      expect((await initializeWith(t.slug, rotated.secret)).status).toBe(200);
    });
  });

  it('answers 404 once the tenant is deleted, even inside an open session', async () => {
    const t = await p.admin.tenantWithKey([]);
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    await p.admin.deleteTenant(t.slug);
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
    const k = await p.admin.createKey(t.slug);
    const reused = await rawPost(p, t.slug, toolsCall('echo', { text: 'x' }), {
      ...s.headers,
      ...bearer(k.secret),
    });
    expect(reused.status).toBe(404);
  });

  describe('RFC 9728 protected resource metadata', () => {
    it('is public and describes the tenant’s MCP resource', async () => {
      const t = await p.admin.createTenant();
      const res = await p.http().get(`/.well-known/oauth-protected-resource/t/${t.slug}/mcp`);
      expect(res.status).toBe(200);
      expect(res.body.resource).toBe(`${p.config.publicUrl}/t/${t.slug}/mcp`);
      expect(res.body.scopes_supported).toEqual(
        expect.arrayContaining(['math:use', 'notes:read', 'notes:write', 'tenant:admin']),
      );
      expect(res.body.bearer_methods_supported).toEqual(['header']);
    });

    it('the 401 challenge points at a document that exists', async () => {
      const t = await p.admin.createTenant();
      const res = await rawPost(p, t.slug, initializeRequest());
      const url = /resource_metadata="([^"]+)"/.exec(
        res.headers.get('www-authenticate') ?? '',
      )?.[1];
      expect(url).toBeDefined();
      const doc = await p.http().get(new URL(url!).pathname).expect(200);
      expect(doc.body.resource).toBe(`${p.config.publicUrl}/t/${t.slug}/mcp`);
    });

    it('answers 404 for an unknown tenant', async () => {
      const t = await p.admin.createTenant();
      await p.http().get(`/.well-known/oauth-protected-resource/t/${t.slug}-nope/mcp`).expect(404);
    });
  });
});
