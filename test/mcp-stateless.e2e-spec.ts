import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { ADMIN, startPlatform, TestPlatform } from './support/platform';
import { bearer, tenantWithKey, toolNames } from './support/mcp';
import {
  initializeRequest,
  MCP_POST_HEADERS,
  rawMcp,
  rawPost,
  rejectionOf,
  resourceMetadataFor,
  toolsCall,
  toolsList,
} from './support/mcp-raw';

describe('MCP endpoint in stateless mode', () => {
  let p: TestPlatform;
  const clients: Client[] = [];

  /** An SDK client that also records every Mcp-Session-Id header the server sent. */
  const open = async (slug: string, headers: Record<string, string>) => {
    const sessionHeaders: string[] = [];
    const transport = new StreamableHTTPClientTransport(new URL(`${p.url}/t/${slug}/mcp`), {
      requestInit: { headers },
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        const id = res.headers.get('mcp-session-id');
        if (id) sessionHeaders.push(id);
        return res;
      },
    });
    const client = new Client({ name: 'e2e-stateless', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return { client, transport, sessionHeaders };
  };

  beforeAll(async () => {
    p = await startPlatform({ MCP_STATELESS: 'true' });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await p.close();
  });

  it('serves an SDK client: initialize, list and call tools, without any session id', async () => {
    expect(p.config.mcpStateless).toBe(true);
    const t = await tenantWithKey(p, ['math:use']);
    const { client, transport, sessionHeaders } = await open(t.slug, bearer(t.key));
    expect(client.getServerVersion()?.name).toBe('mcp-platform');
    expect(await toolNames(client)).toEqual(['add', 'echo', 'subtract', 'whoami']);
    expect(
      (await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).structuredContent,
    ).toEqual({ result: 42 });
    expect(
      (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent,
    ).toMatchObject({ tenant: t.slug, id: t.keyId });
    expect(transport.sessionId).toBeUndefined();
    expect(sessionHeaders).toEqual([]);
  });

  it('returns no Mcp-Session-Id on initialize and answers every POST on its own', async () => {
    const t = await tenantWithKey(p, ['math:use']);
    const init = await rawPost(p, t.slug, initializeRequest(), bearer(t.key));
    expect(init.status).toBe(200);
    expect(init.headers.get('mcp-session-id')).toBeNull();
    expect(init.messages[0]?.result).toMatchObject({ serverInfo: { name: 'mcp-platform' } });
    // A tools/call with no prior initialize in this request and no session header is served.
    const call = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), {
      ...bearer(t.key),
      'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION,
    });
    expect(call.status).toBe(200);
    expect(call.messages[0]?.result).toMatchObject({ structuredContent: { result: 3 } });
  });

  it('answers GET and DELETE with 405', async () => {
    const t = await tenantWithKey(p, []);
    const get = await rawMcp(p, t.slug, {
      method: 'GET',
      headers: { ...bearer(t.key), Accept: 'text/event-stream' },
    });
    expect(get.status).toBe(405);
    const del = await rawMcp(p, t.slug, {
      method: 'DELETE',
      headers: { ...bearer(t.key), 'Mcp-Session-Id': 'anything' },
    });
    expect(del.status).toBe(405);
  });

  it('still authenticates every request', async () => {
    const t = await tenantWithKey(p, []);
    const res = await rawPost(p, t.slug, initializeRequest());
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${resourceMetadataFor(p, t.slug)}"`,
    );
    const { client } = await open(t.slug, bearer(t.key));
    await p.http().post(`/admin/tenants/${t.slug}/keys/${t.keyId}/revoke`).set(ADMIN).expect(200);
    const err = await rejectionOf(client.listTools());
    expect(err.code).toBe(401);
  });

  it('still enforces scopes: a tools/call without them is an HTTP 403 with a challenge', async () => {
    const t = await tenantWithKey(p, ['notes:read']);
    const res = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), bearer(t.key));
    expect(res.status).toBe(403);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="math:use"');
    expect(challenge).toContain(`resource_metadata="${resourceMetadataFor(p, t.slug)}"`);
    const { client } = await open(t.slug, bearer(t.key));
    expect(await toolNames(client)).toEqual([
      'echo',
      'notes_get',
      'notes_list',
      'notes_search',
      'whoami',
    ]);
    expect(
      (await rejectionOf(client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).code,
    ).toBe(403);
  });

  it('still hides tools outside a key’s allow-list', async () => {
    const t = await tenantWithKey(p, ['math:use'], ['add']);
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
    const t = await tenantWithKey(p, []);
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
    const t = await tenantWithKey(p, []);
    const { client } = await open(t.slug, bearer(t.key));
    await expect(client.setLoggingLevel('debug')).resolves.toEqual({});
  });
});
