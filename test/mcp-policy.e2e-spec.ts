import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { ADMIN, startPlatform, TestPlatform } from './support/platform';
import { bearer, connect, createKey, tenantWithKey, toolNames } from './support/mcp';
import {
  connectWithStream,
  openLegacyStream,
  rawInitialize,
  rawMcp,
  rawPost,
  rejectionOf,
  setTenantTool,
  toolsCall,
  withTimeout,
} from './support/mcp-raw';

/** The error of a failed call with the tool's name taken out, for comparing two failures. */
const shapeOf = (err: Error & { code?: number }, name: string) => ({
  code: err.code,
  message: err.message.split(name).join('<tool>'),
});

describe('MCP tool authorization', () => {
  let p: TestPlatform;
  const clients: Client[] = [];
  const open = async (slug: string, key: string) => {
    const c = await connect(p, slug, bearer(key));
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

  describe('a key limited to named tools', () => {
    it('lists exactly the named tools it has scopes for', async () => {
      const t = await tenantWithKey(p, ['math:use'], ['add']);
      const c = await open(t.slug, t.key);
      expect(await toolNames(c)).toEqual(['add']);
      expect(
        (await c.callTool({ name: 'add', arguments: { a: 3, b: 4 } })).structuredContent,
      ).toEqual({ result: 7 });
    });

    it('gets the same error for a tool outside its list as for a tool that does not exist', async () => {
      const t = await tenantWithKey(p, ['math:use'], ['add']);
      const c = await open(t.slug, t.key);
      const hidden = await rejectionOf(c.callTool({ name: 'subtract', arguments: { a: 3, b: 4 } }));
      const missing = await rejectionOf(
        c.callTool({ name: 'no_such_tool', arguments: { a: 3, b: 4 } }),
      );
      expect(missing.message).toMatch(/no_such_tool/);
      expect(shapeOf(hidden, 'subtract')).toEqual(shapeOf(missing, 'no_such_tool'));
      // Scope-free tools outside the list are hidden the same way.
      const echo = await rejectionOf(c.callTool({ name: 'echo', arguments: { text: 'x' } }));
      expect(shapeOf(echo, 'echo')).toEqual(shapeOf(missing, 'no_such_tool'));
    });

    it('over raw HTTP, a hidden tool answers byte for byte like a missing one (no 403)', async () => {
      // Outside the key's list *and* short of scopes: not "only scopes missing", so not a 403.
      const t = await tenantWithKey(p, [], ['echo']);
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const hidden = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), s.headers);
      const missing = await rawPost(p, t.slug, toolsCall('nope_tool', { a: 1, b: 2 }), s.headers);
      expect(missing.status).toBe(200);
      expect(hidden.status).toBe(missing.status);
      expect(hidden.headers.get('www-authenticate')).toBeNull();
      expect(missing.messages[0]?.error).toBeDefined();
      expect(JSON.stringify(hidden.messages).split('add').join('<tool>')).toBe(
        JSON.stringify(missing.messages).split('nope_tool').join('<tool>'),
      );
    });
  });

  describe('insufficient scope', () => {
    it('answers a tools/call with HTTP 403 and a step-up challenge', async () => {
      const t = await tenantWithKey(p, ['notes:read']);
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const res = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), s.headers);
      expect(res.status).toBe(403);
      const challenge = res.headers.get('www-authenticate') ?? '';
      expect(challenge).toMatch(/^Bearer /);
      expect(challenge).toContain('error="insufficient_scope"');
      expect(challenge).toContain('scope="math:use"');
      expect(challenge).toContain(
        `resource_metadata="${p.config.publicUrl}/.well-known/oauth-protected-resource/t/${t.slug}/mcp"`,
      );
      // Tools it does have scopes for still work in the same session.
      const ok = await rawPost(p, t.slug, toolsCall('echo', { text: 'still here' }), s.headers);
      expect(ok.status).toBe(200);
      expect(ok.messages[0]?.result).toMatchObject({
        content: [{ type: 'text', text: 'still here' }],
      });
    });

    it('is the answer when only scopes are missing, even for a key limited to that tool', async () => {
      const t = await tenantWithKey(p, [], ['add']);
      const c = await open(t.slug, t.key);
      expect(await toolNames(c)).toEqual([]);
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const res = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), s.headers);
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toContain('scope="math:use"');
    });

    it('is the answer on the legacy SSE message endpoint too', async () => {
      const t = await tenantWithKey(p, []);
      const stream = await openLegacyStream(p, t.slug, bearer(t.key));
      try {
        const res = await rawMcp(p, t.slug, {
          path: `messages?sessionId=${encodeURIComponent(stream.sessionId)}`,
          headers: { ...bearer(t.key), 'Content-Type': 'application/json' },
          body: toolsCall('notes_create', { title: 'x' }),
        });
        expect(res.status).toBe(403);
        const challenge = res.headers.get('www-authenticate') ?? '';
        expect(challenge).toContain('error="insufficient_scope"');
        expect(challenge).toContain('scope="notes:write"');
        expect(challenge).toContain('resource_metadata=');
      } finally {
        stream.close();
      }
    });

    it('fails the SDK client’s call and hides the tool from its list', async () => {
      const t = await tenantWithKey(p, []);
      const c = await open(t.slug, t.key);
      expect(await toolNames(c)).toEqual(['echo', 'whoami']);
      const err = await rejectionOf(c.callTool({ name: 'add', arguments: { a: 1, b: 2 } }));
      expect(err.code).toBe(403);
    });
  });

  describe('tools disabled for a tenant', () => {
    it('vanish from an open session, answer as missing, and come back when re-enabled', async () => {
      const t = await tenantWithKey(p, ['math:use']);
      const c = await open(t.slug, t.key);
      expect(await toolNames(c)).toContain('add');

      const put = await p
        .http()
        .put(`/admin/tenants/${t.slug}/tools/add`)
        .set(ADMIN)
        .send({ enabled: false })
        .expect(200);
      expect(put.body).toMatchObject({ name: 'add', enabled: false, requiredScopes: ['math:use'] });

      expect(await toolNames(c)).toEqual(['echo', 'subtract', 'whoami']);
      const disabled = await rejectionOf(c.callTool({ name: 'add', arguments: { a: 1, b: 2 } }));
      const missing = await rejectionOf(
        c.callTool({ name: 'no_such_tool', arguments: { a: 1, b: 2 } }),
      );
      expect(shapeOf(disabled, 'add')).toEqual(shapeOf(missing, 'no_such_tool'));

      const catalog = await p.http().get(`/admin/tenants/${t.slug}/tools`).set(ADMIN).expect(200);
      const add = (catalog.body.items as { name: string }[]).find((i) => i.name === 'add');
      expect(add).toMatchObject({ name: 'add', enabled: false, requiredScopes: ['math:use'] });
      const sub = (catalog.body.items as { name: string }[]).find((i) => i.name === 'subtract');
      expect(sub).toMatchObject({ enabled: true });

      await setTenantTool(p, t.slug, 'add', true);
      expect(await toolNames(c)).toContain('add');
      expect(
        (await c.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).structuredContent,
      ).toEqual({ result: 3 });
    });

    it('only affect the tenant that disabled them', async () => {
      const a = await tenantWithKey(p, ['math:use']);
      const b = await tenantWithKey(p, ['math:use']);
      await setTenantTool(p, a.slug, 'subtract', false);
      expect(await toolNames(await open(a.slug, a.key))).not.toContain('subtract');
      expect(await toolNames(await open(b.slug, b.key))).toContain('subtract');
    });

    it('a disabled tool is not a scope problem: no 403 for a key lacking its scope', async () => {
      const t = await tenantWithKey(p, []);
      await setTenantTool(p, t.slug, 'add', false);
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const res = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), s.headers);
      expect(res.status).toBe(200);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(res.messages[0]?.error?.message).toMatch(/add/);
    });

    it('tells an open session its tool list changed', async () => {
      const t = await tenantWithKey(p, ['math:use']);
      const { client, streamOpen } = await connectWithStream(p, t.slug, bearer(t.key));
      clients.push(client);
      const changed = new Promise<void>((resolve) =>
        client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
      );
      await withTimeout(streamOpen, 2000, 'the GET event stream opening');
      await setTenantTool(p, t.slug, 'subtract', false);
      await withTimeout(changed, 2000, 'notifications/tools/list_changed');
      expect(await toolNames(client)).toEqual(['add', 'echo', 'whoami']);
    });

    it('tells an open legacy SSE session its tool list changed', async () => {
      const t = await tenantWithKey(p, ['math:use']);
      const c = await connect(p, t.slug, bearer(t.key), 'sse');
      clients.push(c);
      const changed = new Promise<void>((resolve) =>
        c.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
      );
      await setTenantTool(p, t.slug, 'add', false);
      await withTimeout(changed, 2000, 'notifications/tools/list_changed');
      expect(await toolNames(c)).toEqual(['echo', 'subtract', 'whoami']);
    });

    it('refuses an unknown tool name with 404 and a non-boolean body with 400', async () => {
      const t = await tenantWithKey(p, []);
      const unknown = await p
        .http()
        .put(`/admin/tenants/${t.slug}/tools/no_such_tool`)
        .set(ADMIN)
        .send({ enabled: false });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
      const yes = await p
        .http()
        .put(`/admin/tenants/${t.slug}/tools/add`)
        .set(ADMIN)
        .send({ enabled: 'yes' });
      expect(yes.status).toBe(400);
      expect(yes.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(yes.body.message).toMatch(/enabled/);
      // The refused request changed nothing.
      const catalog = await p.http().get(`/admin/tenants/${t.slug}/tools`).set(ADMIN).expect(200);
      expect(catalog.body.items.every((i: { enabled: boolean }) => i.enabled)).toBe(true);
    });
  });

  describe('key creation', () => {
    it('refuses an unknown scope', async () => {
      const t = await tenantWithKey(p, []);
      const res = await p
        .http()
        .post(`/admin/tenants/${t.slug}/keys`)
        .set(ADMIN)
        .send({ name: 'typo', scopes: ['foo:bar'] });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/foo:bar/);
    });

    it('refuses an unknown tool name', async () => {
      const t = await tenantWithKey(p, []);
      const res = await p
        .http()
        .post(`/admin/tenants/${t.slug}/keys`)
        .set(ADMIN)
        .send({ name: 'typo', scopes: ['math:use'], tools: ['add', 'multiply'] });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/multiply/);
    });

    it('tells an open session its tool list changed when its key’s tools change', async () => {
      const t = await tenantWithKey(p, ['math:use']);
      const { client, streamOpen } = await connectWithStream(p, t.slug, bearer(t.key));
      clients.push(client);
      const changed = new Promise<void>((resolve) =>
        client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
      );
      await withTimeout(streamOpen, 2000, 'the GET event stream opening');
      await p
        .http()
        .patch(`/admin/tenants/${t.slug}/keys/${t.keyId}`)
        .set(ADMIN)
        .send({ tools: ['subtract'] })
        .expect(200);
      await withTimeout(changed, 2000, 'notifications/tools/list_changed');
      expect(await toolNames(client)).toEqual(['subtract']);
    });

    it('takes a change of scopes into account on the next request of an open session', async () => {
      const t = await tenantWithKey(p, []);
      const c = await open(t.slug, t.key);
      expect(await toolNames(c)).toEqual(['echo', 'whoami']);
      await p
        .http()
        .patch(`/admin/tenants/${t.slug}/keys/${t.keyId}`)
        .set(ADMIN)
        .send({ scopes: ['math:use'] })
        .expect(200);
      expect(await toolNames(c)).toEqual(['add', 'echo', 'subtract', 'whoami']);
      expect(
        (await c.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).structuredContent,
      ).toEqual({ result: 3 });
    });
  });

  it('keys of one tenant are limited independently of other keys', async () => {
    const t = await tenantWithKey(p, ['math:use']);
    const limited = await createKey(p, t.slug, { scopes: ['math:use'], tools: ['subtract'] });
    expect(await toolNames(await open(t.slug, limited.key))).toEqual(['subtract']);
    expect(await toolNames(await open(t.slug, t.key))).toEqual([
      'add',
      'echo',
      'subtract',
      'whoami',
    ]);
  });
});
