import { rejectionOf } from './support/http';
import {
  bearer,
  builtInToolNames,
  builtInToolsFor,
  initializeRequest,
  MCP_POST_HEADERS,
  PROTOCOL_VERSION,
  rawDelete,
  rawGetStream,
  rawMcp,
  rawPost,
  resourceMetadataUrl,
  toolNames,
  toolsCall,
  toolsList,
} from './support/mcp';
import { usePlatform } from './support/platform';

describe('MCP endpoint in stateless mode', () => {
  const p = usePlatform({ MCP_STATELESS: 'true' });
  /** An SDK client; its `sessionIds` records every Mcp-Session-Id header the server sent. */
  const open = (slug: string, headers: Record<string, string>) =>
    p.openMcp(slug, headers, { name: 'e2e-stateless' });

  it('serves an SDK client: initialize, list and call tools, without any session id', async () => {
    expect(p.config.mcpStateless).toBe(true);
    const t = await p.admin.tenantWithKey(['math:use']);
    const { client, transport, sessionIds } = await open(t.slug, bearer(t.key));
    expect(client.getServerVersion()?.name).toBe('mcp-platform');
    expect(await builtInToolNames(client)).toEqual(builtInToolsFor(['math:use']));
    expect(
      (await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).structuredContent,
    ).toEqual({ result: 42 });
    expect(
      (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent,
    ).toMatchObject({ tenant: t.slug, id: t.keyId });
    expect(transport.sessionId).toBeUndefined();
    expect(sessionIds).toEqual([]);
  });

  it('returns no Mcp-Session-Id on initialize and answers every POST on its own', async () => {
    const t = await p.admin.tenantWithKey(['math:use']);
    const init = await rawPost(p, t.slug, initializeRequest(), bearer(t.key));
    expect(init.status).toBe(200);
    expect(init.headers.get('mcp-session-id')).toBeNull();
    expect(init.messages[0]?.result).toMatchObject({ serverInfo: { name: 'mcp-platform' } });
    // A tools/call with no prior initialize in this request and no session header is served.
    const call = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), {
      ...bearer(t.key),
      ...PROTOCOL_VERSION,
    });
    expect(call.status).toBe(200);
    expect(call.messages[0]?.result).toMatchObject({ structuredContent: { result: 3 } });
  });

  it('answers GET and DELETE with 405', async () => {
    const t = await p.admin.tenantWithKey([]);
    const get = await rawGetStream(p, t.slug, bearer(t.key));
    expect(get.status).toBe(405);
    const del = await rawDelete(p, t.slug, bearer(t.key), 'anything');
    expect(del.status).toBe(405);
  });

  it('still authenticates every request', async () => {
    const t = await p.admin.tenantWithKey([]);
    const res = await rawPost(p, t.slug, initializeRequest());
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${resourceMetadataUrl(p, t.slug)}"`,
    );
    const { client } = await open(t.slug, bearer(t.key));
    await p.admin.revokeKey(t.slug, t.keyId);
    const err = await rejectionOf(client.listTools());
    expect(err.code).toBe(401);
  });

  it('still enforces scopes: a tools/call without them is an HTTP 403 with a challenge', async () => {
    const t = await p.admin.tenantWithKey(['notes:read']);
    const res = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), bearer(t.key));
    expect(res.status).toBe(403);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="math:use"');
    expect(challenge).toContain(`resource_metadata="${resourceMetadataUrl(p, t.slug)}"`);
    const { client } = await open(t.slug, bearer(t.key));
    expect(await builtInToolNames(client)).toEqual(builtInToolsFor(['notes:read']));
    expect(
      (await rejectionOf(client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).code,
    ).toBe(403);
  });

  it('still hides tools outside a key’s allow-list', async () => {
    const t = await p.admin.tenantWithKey(['math:use'], ['add']);
    const { client } = await open(t.slug, bearer(t.key));
    expect(await toolNames(client)).toEqual(['add']);
    const hidden = await rawPost(p, t.slug, toolsCall('subtract', { a: 1, b: 2 }), bearer(t.key));
    const missing = await rawPost(p, t.slug, toolsCall('nope_tool', { a: 1, b: 2 }), bearer(t.key));
    expect(hidden.status).toBe(missing.status);
    expect(JSON.stringify(hidden.messages).split('subtract').join('<tool>')).toBe(
      JSON.stringify(missing.messages).split('nope_tool').join('<tool>'),
    );
  });

  it('still requires the Accept header on POST', async () => {
    const t = await p.admin.tenantWithKey([]);
    const res = await rawMcp(p, t.slug, {
      headers: {
        ...bearer(t.key),
        'Content-Type': MCP_POST_HEADERS['Content-Type'],
        Accept: 'application/json',
      },
      body: toolsList(),
    });
    expect(res.status).toBe(406);
  });

  it('accepts logging/setLevel', async () => {
    const t = await p.admin.tenantWithKey([]);
    const { client } = await open(t.slug, bearer(t.key));
    await expect(client.setLoggingLevel('debug')).resolves.toEqual({});
  });
});
