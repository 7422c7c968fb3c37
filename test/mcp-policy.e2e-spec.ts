import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { rejectionOf, withTimeout } from './support/http';
import {
  bearer,
  builtInAmong,
  builtInToolNames,
  builtInToolsFor,
  legacyPost,
  openLegacyStream,
  rawInitialize,
  rawPost,
  toolNames,
  toolsCall,
} from './support/mcp';
import { ADMIN, usePlatform } from './support/platform';

/** The error of a failed call with the tool's name taken out, for comparing two failures. */
const shapeOf = (err: Error & { code?: number }, name: string) => ({
  code: err.code,
  message: err.message.split(name).join('<tool>'),
});

/** The built-in tools of a math:use key, without `tool`. */
const mathToolsWithout = (tool: string) => builtInToolsFor(['math:use']).filter((n) => n !== tool);

describe('MCP tool authorization', () => {
  const p = usePlatform();
  const open = (slug: string, key: string) => p.connect(slug, bearer(key));

  /** Resolves on the client's next notifications/tools/list_changed. */
  const nextListChange = (c: Client) =>
    new Promise<void>((resolve) =>
      c.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
    );

  /**
   * A client of a math:use key, on Streamable HTTP with its event stream open or on legacy SSE,
   * told its tool list changed (within 2 s) after `change`; returns what it lists then.
   */
  async function listAfterChange(
    kind: 'streamable' | 'sse',
    change: (t: { slug: string; keyId: string }) => Promise<unknown>,
  ): Promise<string[]> {
    const t = await p.admin.tenantWithKey(['math:use']);
    let client: Client;
    if (kind === 'streamable') {
      const c = await p.openMcp(t.slug, bearer(t.key));
      await withTimeout(c.streamOpen, 2000, 'the GET event stream opening');
      client = c.client;
    } else {
      client = await p.connect(t.slug, bearer(t.key), 'sse');
    }
    const changed = nextListChange(client);
    await change(t);
    await withTimeout(changed, 2000, 'notifications/tools/list_changed');
    return toolNames(client);
  }

  describe('a key limited to named tools', () => {
    it('lists exactly the named tools it has scopes for', async () => {
      const t = await p.admin.tenantWithKey(['math:use'], ['add']);
      const c = await open(t.slug, t.key);
      expect(await toolNames(c)).toEqual(['add']);
      expect(
        (await c.callTool({ name: 'add', arguments: { a: 3, b: 4 } })).structuredContent,
      ).toEqual({ result: 7 });
    });

    it('gets the same error for a tool outside its list as for a tool that does not exist', async () => {
      const t = await p.admin.tenantWithKey(['math:use'], ['add']);
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
      const t = await p.admin.tenantWithKey([], ['echo']);
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
      const t = await p.admin.tenantWithKey(['notes:read']);
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
      const t = await p.admin.tenantWithKey([], ['add']);
      const c = await open(t.slug, t.key);
      expect(await toolNames(c)).toEqual([]);
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const res = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), s.headers);
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toContain('scope="math:use"');
    });

    it('is the answer on the legacy SSE message endpoint too', async () => {
      const t = await p.admin.tenantWithKey([]);
      const stream = await openLegacyStream(p, t.slug, bearer(t.key));
      try {
        const res = await legacyPost(
          p,
          t.slug,
          stream.sessionId,
          toolsCall('notes_create', { title: 'x' }),
          bearer(t.key),
        );
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
      const t = await p.admin.tenantWithKey([]);
      const c = await open(t.slug, t.key);
      const names = await toolNames(c);
      expect(names).not.toContain('add');
      expect(builtInAmong(names)).toEqual(builtInToolsFor([]));
      const err = await rejectionOf(c.callTool({ name: 'add', arguments: { a: 1, b: 2 } }));
      expect(err.code).toBe(403);
    });
  });

  describe('tools disabled for a tenant', () => {
    it('vanish from an open session, answer as missing, and come back when re-enabled', async () => {
      const t = await p.admin.tenantWithKey(['math:use']);
      const c = await open(t.slug, t.key);
      expect(await toolNames(c)).toContain('add');

      const put = await p
        .http()
        .put(`/admin/tenants/${t.slug}/tools/add`)
        .set(ADMIN)
        .send({ enabled: false })
        .expect(200);
      expect(put.body).toMatchObject({ name: 'add', enabled: false, requiredScopes: ['math:use'] });

      expect(await builtInToolNames(c)).toEqual(mathToolsWithout('add'));
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

      await p.admin.setTool(t.slug, 'add', true);
      expect(await toolNames(c)).toContain('add');
      expect(
        (await c.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).structuredContent,
      ).toEqual({ result: 3 });
    });

    it('only affect the tenant that disabled them', async () => {
      const a = await p.admin.tenantWithKey(['math:use']);
      const b = await p.admin.tenantWithKey(['math:use']);
      await p.admin.setTool(a.slug, 'subtract', false);
      expect(await toolNames(await open(a.slug, a.key))).not.toContain('subtract');
      expect(await toolNames(await open(b.slug, b.key))).toContain('subtract');
    });

    it('a disabled tool is not a scope problem: no 403 for a key lacking its scope', async () => {
      const t = await p.admin.tenantWithKey([]);
      await p.admin.setTool(t.slug, 'add', false);
      const s = await rawInitialize(p, t.slug, bearer(t.key));
      const res = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), s.headers);
      expect(res.status).toBe(200);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(res.messages[0]?.error?.message).toMatch(/add/);
    });

    it.each([
      ['an open session', 'streamable' as const, 'subtract'],
      ['an open legacy SSE session', 'sse' as const, 'add'],
    ])('tells %s its tool list changed', async (_what, kind, tool) => {
      const names = await listAfterChange(kind, (t) => p.admin.setTool(t.slug, tool, false));
      expect(builtInAmong(names)).toEqual(mathToolsWithout(tool));
    });

    it('refuses an unknown tool name with 404 and a non-boolean body with 400', async () => {
      const t = await p.admin.tenantWithKey([]);
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
    it.each([
      ['an unknown scope', { scopes: ['foo:bar'] }, /foo:bar/],
      ['an unknown tool name', { scopes: ['math:use'], tools: ['add', 'multiply'] }, /multiply/],
    ])('refuses %s', async (_what, body, message) => {
      const t = await p.admin.tenantWithKey([]);
      const res = await p
        .http()
        .post(`/admin/tenants/${t.slug}/keys`)
        .set(ADMIN)
        .send({ name: 'typo', ...body });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(message);
    });

    it('tells an open session its tool list changed when its key’s tools change', async () => {
      const names = await listAfterChange('streamable', (t) =>
        p.admin.patchKey(t.slug, t.keyId, { tools: ['subtract'] }),
      );
      expect(names).toEqual(['subtract']);
    });

    it('takes a change of scopes into account on the next request of an open session', async () => {
      const t = await p.admin.tenantWithKey([]);
      const c = await open(t.slug, t.key);
      expect(await builtInToolNames(c)).toEqual(builtInToolsFor([]));
      await p.admin.patchKey(t.slug, t.keyId, { scopes: ['math:use'] });
      expect(await builtInToolNames(c)).toEqual(builtInToolsFor(['math:use']));
      expect(
        (await c.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).structuredContent,
      ).toEqual({ result: 3 });
    });
  });

  it('keys of one tenant are limited independently of other keys', async () => {
    const t = await p.admin.tenantWithKey(['math:use']);
    const limited = await p.admin.createKey(t.slug, { scopes: ['math:use'], tools: ['subtract'] });
    expect(await toolNames(await open(t.slug, limited.secret))).toEqual(['subtract']);
    expect(await builtInToolNames(await open(t.slug, t.key))).toEqual(
      builtInToolsFor(['math:use']),
    );
  });
});
