import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startPlatform, TestPlatform } from './support/platform';
import { bearer, connect, createKey, TransportKind, tenantWithKey } from './support/mcp';
import {
  initializeRequest,
  openLegacyStream,
  rawInitialize,
  rawMcp,
  rawPost,
  toolsCall,
  toolsList,
} from './support/mcp-raw';

describe('MCP sessions', () => {
  let p: TestPlatform;
  const clients: Client[] = [];
  const cleanups: (() => void)[] = [];

  beforeAll(async () => {
    p = await startPlatform();
  });
  afterAll(async () => {
    cleanups.forEach((c) => c());
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await p.close();
  });

  it('hands out a session id on initialize and serves follow-up requests in it', async () => {
    const t = await tenantWithKey(p, ['math:use']);
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    expect(s.id).toMatch(/^[\x21-\x7e]+$/);
    const list = await rawPost(p, t.slug, toolsList(), s.headers);
    expect(list.status).toBe(200);
    const names = (list.messages[0]?.result?.tools as { name: string }[]).map((x) => x.name);
    expect(names.sort()).toEqual(['add', 'echo', 'subtract', 'whoami']);
  });

  it('gives every initialize its own session', async () => {
    const t = await tenantWithKey(p, []);
    const a = await rawInitialize(p, t.slug, bearer(t.key));
    const b = await rawInitialize(p, t.slug, bearer(t.key));
    expect(a.id).not.toBe(b.id);
  });

  it('is bound to the principal that created it: another key of the tenant gets 404', async () => {
    const t = await tenantWithKey(p, ['math:use']);
    const other = await createKey(p, t.slug, { scopes: ['math:use'] });
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    const stolen = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), {
      ...s.headers,
      ...bearer(other.key),
    });
    expect(stolen.status).toBe(404);
    expect(stolen.text).not.toContain('"result"');
    // The same answer as for a session that never existed.
    const unknown = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), {
      ...s.headers,
      ...bearer(other.key),
      'Mcp-Session-Id': 'no-such-session',
    });
    expect(unknown.status).toBe(404);
    expect(stolen.json).toEqual(unknown.json);
    // The owner can still use it.
    const own = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), s.headers);
    expect(own.status).toBe(200);
    expect(own.messages[0]?.result).toMatchObject({ structuredContent: { result: 3 } });
  });

  it('is bound to its tenant: its id is unknown on another tenant’s endpoint', async () => {
    const a = await tenantWithKey(p, []);
    const b = await tenantWithKey(p, []);
    const sb = await rawInitialize(p, b.slug, bearer(b.key));
    // B's session id on A's endpoint with A's key: no such session there.
    const res = await rawPost(p, a.slug, toolsList(), {
      ...sb.headers,
      ...bearer(a.key),
    });
    expect(res.status).toBe(404);
  });

  it('answers 404 for an unknown session id', async () => {
    const t = await tenantWithKey(p, []);
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    const res = await rawPost(p, t.slug, toolsList(), {
      ...s.headers,
      'Mcp-Session-Id': '00000000-0000-4000-8000-000000000000',
    });
    expect(res.status).toBe(404);
    expect(res.messages[0]?.error?.code).toBeDefined();
    const get = await rawMcp(p, t.slug, {
      method: 'GET',
      headers: { ...s.headers, 'Mcp-Session-Id': 'nope', Accept: 'text/event-stream' },
    });
    expect(get.status).toBe(404);
  });

  it('ends on DELETE, after which its id answers 404', async () => {
    const t = await tenantWithKey(p, []);
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    const del = await rawMcp(p, t.slug, { method: 'DELETE', headers: s.headers });
    expect(del.status).toBe(200);
    const after = await rawPost(p, t.slug, toolsList(), s.headers);
    expect(after.status).toBe(404);
    const again = await rawMcp(p, t.slug, { method: 'DELETE', headers: s.headers });
    expect(again.status).toBe(404);
  });

  it('its event stream cannot be opened by another principal', async () => {
    const t = await tenantWithKey(p, []);
    const other = await createKey(p, t.slug, { scopes: [] });
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    const get = await rawMcp(p, t.slug, {
      method: 'GET',
      headers: { ...s.headers, ...bearer(other.key), Accept: 'text/event-stream' },
    });
    expect(get.status).toBe(404);
  });

  it('cannot be ended by another principal', async () => {
    const t = await tenantWithKey(p, []);
    const other = await createKey(p, t.slug, { scopes: [] });
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    const del = await rawMcp(p, t.slug, {
      method: 'DELETE',
      headers: { ...s.headers, ...bearer(other.key) },
    });
    expect(del.status).toBe(404);
    expect((await rawPost(p, t.slug, toolsList(), s.headers)).status).toBe(200);
  });

  it('ends when the SDK client terminates it', async () => {
    const t = await tenantWithKey(p, []);
    const c = new Client({ name: 'e2e', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${p.url}/t/${t.slug}/mcp`), {
      requestInit: { headers: bearer(t.key) },
    });
    await c.connect(transport);
    const id = transport.sessionId!;
    expect(id).toBeTruthy();
    await transport.terminateSession();
    await c.close();
    const res = await rawPost(p, t.slug, toolsList(), {
      ...bearer(t.key),
      'Mcp-Session-Id': id,
    });
    expect(res.status).toBe(404);
  });

  it('refuses a request without a session id that is not an initialize with 400', async () => {
    const t = await tenantWithKey(p, []);
    const res = await rawPost(p, t.slug, toolsList(), bearer(t.key));
    expect(res.status).toBe(400);
    expect(res.messages[0]?.error?.message).toMatch(/initialize/i);
    const get = await rawMcp(p, t.slug, {
      method: 'GET',
      headers: { ...bearer(t.key), Accept: 'text/event-stream' },
    });
    expect(get.status).toBe(400);
  });

  it('refuses a second initialize inside an existing session', async () => {
    const t = await tenantWithKey(p, []);
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    const res = await rawPost(p, t.slug, initializeRequest(9), s.headers);
    expect(res.status).toBe(400);
  });

  describe('legacy HTTP+SSE sessions', () => {
    it('are bound to their principal as well', async () => {
      const t = await tenantWithKey(p, []);
      const other = await createKey(p, t.slug, { scopes: [] });
      const stream = await openLegacyStream(p, t.slug, bearer(t.key));
      cleanups.push(stream.close);
      expect(stream.sessionId).toBeTruthy();
      const post = (auth: Record<string, string>) =>
        rawMcp(p, t.slug, {
          path: `messages?sessionId=${encodeURIComponent(stream.sessionId)}`,
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: initializeRequest(),
        });
      expect((await post(bearer(other.key))).status).toBe(404);
      expect((await post({})).status).toBe(401);
      expect((await post(bearer(t.key))).status).toBe(202);
    });

    it('answer 404 for an unknown session id', async () => {
      const t = await tenantWithKey(p, []);
      const res = await rawMcp(p, t.slug, {
        path: 'messages?sessionId=nope',
        headers: { ...bearer(t.key), 'Content-Type': 'application/json' },
        body: toolsList(),
      });
      expect(res.status).toBe(404);
    });
  });

  describe.each<TransportKind>(['streamable', 'sse'])('logging over %s', (kind) => {
    it('accepts logging/setLevel', async () => {
      const t = await tenantWithKey(p, []);
      const c = await connect(p, t.slug, bearer(t.key), kind);
      clients.push(c);
      expect(c.getServerCapabilities()?.logging).toBeDefined();
      await expect(c.setLoggingLevel('debug')).resolves.toEqual({});
      // The session carries on normally afterwards.
      const echo = await c.callTool({ name: 'echo', arguments: { text: 'after' } });
      expect(echo.content).toEqual([{ type: 'text', text: 'after' }]);
    });
  });
});
