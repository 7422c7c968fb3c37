import {
  bearer,
  builtInAmong,
  builtInToolsFor,
  initializeRequest,
  legacyPost,
  openLegacyStream,
  rawInitialize,
  rawMcp,
  rawPost,
  toolsCall,
  toolsList,
  TransportKind,
} from './support/mcp';
import { usePlatform } from './support/platform';

describe('MCP sessions', () => {
  const p = usePlatform();
  const cleanups: (() => void)[] = [];
  afterAll(() => cleanups.forEach((c) => c()));

  /** A session of a tenant's key, and another key of the same tenant. */
  const sessionAndOtherKey = async (scopes: string[] = []) => {
    const t = await p.admin.tenantWithKey(scopes);
    const other = await p.admin.createKey(t.slug, { scopes });
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    return { t, s, other: bearer(other.secret) };
  };

  it('hands out a session id on initialize and serves follow-up requests in it', async () => {
    const t = await p.admin.tenantWithKey(['math:use']);
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    expect(s.id).toMatch(/^[\x21-\x7e]+$/);
    const list = await rawPost(p, t.slug, toolsList(), s.headers);
    expect(list.status).toBe(200);
    const names = (list.messages[0]?.result?.tools as { name: string }[]).map((x) => x.name);
    expect(builtInAmong(names)).toEqual(builtInToolsFor(['math:use']));
  });

  it('gives every initialize its own session', async () => {
    const t = await p.admin.tenantWithKey([]);
    const a = await rawInitialize(p, t.slug, bearer(t.key));
    const b = await rawInitialize(p, t.slug, bearer(t.key));
    expect(a.id).not.toBe(b.id);
  });

  it('is bound to the principal that created it: another key of the tenant gets 404', async () => {
    const { t, s, other } = await sessionAndOtherKey(['math:use']);
    const stolen = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), {
      ...s.headers,
      ...other,
    });
    expect(stolen.status).toBe(404);
    expect(stolen.text).not.toContain('"result"');
    // The same answer as for a session that never existed.
    const unknown = await rawPost(p, t.slug, toolsCall('add', { a: 1, b: 2 }), {
      ...s.headers,
      ...other,
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
    const a = await p.admin.tenantWithKey([]);
    const b = await p.admin.tenantWithKey([]);
    const sb = await rawInitialize(p, b.slug, bearer(b.key));
    // B's session id on A's endpoint with A's key: no such session there.
    const res = await rawPost(p, a.slug, toolsList(), {
      ...sb.headers,
      ...bearer(a.key),
    });
    expect(res.status).toBe(404);
  });

  it('answers 404 for an unknown session id', async () => {
    const t = await p.admin.tenantWithKey([]);
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
    const t = await p.admin.tenantWithKey([]);
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    const del = await rawMcp(p, t.slug, { method: 'DELETE', headers: s.headers });
    expect(del.status).toBe(200);
    const after = await rawPost(p, t.slug, toolsList(), s.headers);
    expect(after.status).toBe(404);
    const again = await rawMcp(p, t.slug, { method: 'DELETE', headers: s.headers });
    expect(again.status).toBe(404);
  });

  it.each([
    ['its event stream cannot be opened', 'GET', { Accept: 'text/event-stream' }],
    ['it cannot be ended', 'DELETE', {}],
  ])('%s by another principal', async (_what, method, extra) => {
    const { t, s, other } = await sessionAndOtherKey();
    const res = await rawMcp(p, t.slug, { method, headers: { ...s.headers, ...other, ...extra } });
    expect(res.status).toBe(404);
    expect((await rawPost(p, t.slug, toolsList(), s.headers)).status).toBe(200);
  });

  it('ends when the SDK client terminates it', async () => {
    const t = await p.admin.tenantWithKey([]);
    const { client: c, transport } = await p.openMcp(t.slug, bearer(t.key));
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
    const t = await p.admin.tenantWithKey([]);
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
    const t = await p.admin.tenantWithKey([]);
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    const res = await rawPost(p, t.slug, initializeRequest(9), s.headers);
    expect(res.status).toBe(400);
  });

  describe('legacy HTTP+SSE sessions', () => {
    it('are bound to their principal as well', async () => {
      const t = await p.admin.tenantWithKey([]);
      const other = await p.admin.createKey(t.slug);
      const stream = await openLegacyStream(p, t.slug, bearer(t.key));
      cleanups.push(stream.close);
      expect(stream.sessionId).toBeTruthy();
      const post = (auth: Record<string, string>) =>
        legacyPost(p, t.slug, stream.sessionId, initializeRequest(), auth);
      expect((await post(bearer(other.secret))).status).toBe(404);
      expect((await post({})).status).toBe(401);
      expect((await post(bearer(t.key))).status).toBe(202);
    });

    it('answer 404 for an unknown session id', async () => {
      const t = await p.admin.tenantWithKey([]);
      const res = await legacyPost(p, t.slug, 'nope', toolsList(), bearer(t.key));
      expect(res.status).toBe(404);
    });
  });

  describe.each<TransportKind>(['streamable', 'sse'])('logging over %s', (kind) => {
    it('accepts logging/setLevel', async () => {
      const t = await p.admin.tenantWithKey([]);
      const c = await p.connect(t.slug, bearer(t.key), kind);
      expect(c.getServerCapabilities()?.logging).toBeDefined();
      await expect(c.setLoggingLevel('debug')).resolves.toEqual({});
      // The session carries on normally afterwards.
      const echo = await c.callTool({ name: 'echo', arguments: { text: 'after' } });
      expect(echo.content).toEqual([{ type: 'text', text: 'after' }]);
    });
  });
});
