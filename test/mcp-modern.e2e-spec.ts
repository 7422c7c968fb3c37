import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { allAudit, waitForAudit } from './support/audit';
import { baseUrl } from './support/admin';
import { pollUntil, sleep } from './support/http';
import {
  bearer,
  builtInAmong,
  builtInToolsFor,
  initializeRequest,
  MCP_POST_HEADERS,
  rawDelete,
  rawGetStream,
  rawPost,
  toolsCall,
} from './support/mcp';
import { countEvents, withDiagnosticTools } from './support/diagnostic-tools';
import { MODERN, modernPost, openListen, openModernClient } from './support/mcp-modern';
import { metricNow } from './support/metrics';
import { usePlatform } from './support/platform';

type Rpc = {
  id?: unknown;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: Record<string, unknown> };
};
const rpc = (messages: unknown[]) => messages as Rpc[];
/** Polls `check` until it returns something (5 s at most). */
const eventually = <T>(what: string, check: () => T | undefined) =>
  pollUntil(5_000, what, () => Promise.resolve(check()));
const final = (messages: unknown[]) => rpc(messages).find((m) => 'result' in m || 'error' in m);

describe('MCP 2026-07-28 era on a tenant endpoint', () => {
  const p = usePlatform({}, { compose: withDiagnosticTools });
  const clients: { close(): Promise<void> }[] = [];
  const modern = async (
    ...args: Parameters<typeof openModernClient> extends [unknown, ...infer R] ? R : never
  ) => {
    const c = await openModernClient(p, ...args);
    clients.push(c);
    return c;
  };
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  });

  describe('v2 clients', () => {
    it.each([
      ['pinned to 2026-07-28', { pin: MODERN } as const],
      ['in auto mode', 'auto' as const],
    ])(
      'a client %s lands on the modern era and lists and calls exactly its tools',
      async (_, mode) => {
        const t = await p.admin.tenantWithKey(['math:use']);
        const client = await modern(t.slug, bearer(t.key), mode);
        expect(client.getProtocolEra()).toBe('modern');
        expect(client.getServerVersion()?.name).toBe('mcp-platform');
        const { tools } = await client.listTools();
        expect(builtInAmong(tools.map((x) => x.name))).toEqual(builtInToolsFor(['math:use']));
        expect(tools.find((x) => x.name === 'add')?.inputSchema).toMatchObject({
          type: 'object',
          properties: { a: { type: 'number' }, b: { type: 'number' } },
        });
        const sum = await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } });
        expect(sum.structuredContent).toEqual({ result: 42 });
        const me = await client.callTool({ name: 'whoami', arguments: {} });
        expect(me.structuredContent).toMatchObject({
          tenant: t.slug,
          kind: 'api-key',
          id: t.keyId,
        });
      },
    );

    it('serves a v1 client on the same endpoint with a 2025 session, as before', async () => {
      const t = await p.admin.tenantWithKey(['math:use']);
      const v1 = new V1Client({ name: 'e2e-v1', version: '1.0.0' });
      const transport = new V1Transport(new URL(`${baseUrl(p)}/t/${t.slug}/mcp`), {
        requestInit: { headers: bearer(t.key) },
      });
      await v1.connect(transport);
      clients.push(v1);
      expect(transport.sessionId).toEqual(expect.any(String));
      expect(transport.protocolVersion).toBe('2025-11-25');
      const sum = await v1.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
      expect(sum.structuredContent).toEqual({ result: 3 });
    });

    it('refuses a call outside the scopes with a 403 step-up challenge, as in the 2025 era', async () => {
      const t = await p.admin.tenantWithKey([]);
      const call = await modernPost(p, t.slug, bearer(t.key), {
        method: 'tools/call',
        params: { name: 'add', arguments: { a: 1, b: 2 } },
      });
      expect(call.status).toBe(403);
      const challenge = call.headers.get('www-authenticate') ?? '';
      expect(challenge).toContain('error="insufficient_scope"');
      expect(challenge).toContain('scope="math:use"');
      expect(challenge).toContain(
        `resource_metadata="${baseUrl(p)}/.well-known/oauth-protected-resource/t/${t.slug}/mcp"`,
      );
      const client = await modern(t.slug, bearer(t.key));
      await expect(client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).rejects.toThrow();
      const denied = await waitForAudit(
        p,
        t.slug,
        (e) => e.action === 'tool.call' && e.outcome === 'denied',
        { count: 2 },
      );
      expect(denied[0]).toMatchObject({
        tool: 'add',
        detail: { reason: 'insufficient_scope', era: MODERN },
      });
    });

    it('applies the key allow-list and tenant switches; a hidden tool answers like a missing one', async () => {
      const t = await p.admin.tenantWithKey(['math:use'], ['add', 'subtract']);
      const client = await modern(t.slug, bearer(t.key));
      expect((await client.listTools()).tools.map((x) => x.name).sort()).toEqual([
        'add',
        'subtract',
      ]);
      await p.admin.setTool(t.slug, 'subtract', false);
      expect((await client.listTools()).tools.map((x) => x.name)).toEqual(['add']);

      const answer = async (name: string) => {
        const r = await modernPost(p, t.slug, bearer(t.key), {
          method: 'tools/call',
          params: { name, arguments: {} },
          id: 7,
        });
        return { status: r.status, error: final(r.messages)?.error };
      };
      const missing = await answer('no_such_tool');
      expect(missing.error?.code).toBe(-32602);
      for (const hidden of ['echo', 'subtract']) {
        const got = await answer(hidden);
        expect({ status: got.status, code: got.error?.code }).toEqual({
          status: missing.status,
          code: -32602,
        });
        expect(got.error?.message).toBe(missing.error?.message.replace('no_such_tool', hidden));
      }
    });

    it('a revoked key is refused on its very next request', async () => {
      const t = await p.admin.tenantWithKey(['math:use']);
      const client = await modern(t.slug, bearer(t.key));
      await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
      await p.admin.revokeKey(t.slug, t.keyId);
      const after = await modernPost(p, t.slug, bearer(t.key), { method: 'tools/list' });
      expect(after.status).toBe(401);
    });
  });

  describe('the wire, request by request', () => {
    let slug: string;
    let auth: Record<string, string>;
    beforeAll(async () => {
      const t = await p.admin.tenantWithKey(['math:use']);
      slug = t.slug;
      auth = bearer(t.key);
    });

    it('server/discover: versions, capabilities, server info, a private cache hint', async () => {
      const r = await modernPost(p, slug, auth, { method: 'server/discover' });
      expect(r.status).toBe(200);
      const result = final(r.messages)?.result;
      expect(result).toMatchObject({
        supportedVersions: [MODERN],
        capabilities: { tools: { listChanged: true } },
        resultType: 'complete',
        cacheScope: 'private',
        _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'mcp-platform' } },
      });
      expect(result?.ttlMs).toEqual(expect.any(Number));
    });

    it('lists carry resultType, server info and a private, zero-ttl hint (they change with grants)', async () => {
      for (const method of [
        'tools/list',
        'prompts/list',
        'resources/list',
        'resources/templates/list',
      ]) {
        const r = await modernPost(p, slug, auth, { method });
        expect({ method, status: r.status }).toEqual({ method, status: 200 });
        expect(final(r.messages)?.result).toMatchObject({
          resultType: 'complete',
          ttlMs: 0,
          cacheScope: 'private',
          _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'mcp-platform' } },
        });
      }
    });

    it('an unknown resource is -32602 with its uri, not an empty read', async () => {
      const r = await modernPost(p, slug, auth, {
        method: 'resources/read',
        params: { uri: 'test://nothing' },
      });
      expect(final(r.messages)?.error).toMatchObject({
        code: -32602,
        data: { uri: 'test://nothing' },
      });
    });

    it.each<[string, Parameters<typeof modernPost>[3], number, number]>([
      [
        'an envelope without clientCapabilities',
        { method: 'tools/list', meta: { 'io.modelcontextprotocol/clientCapabilities': undefined } },
        400,
        -32602,
      ],
      [
        'an unsupported version',
        {
          method: 'tools/list',
          meta: { 'io.modelcontextprotocol/protocolVersion': '2027-01-01' },
          headers: { 'MCP-Protocol-Version': '2027-01-01' },
        },
        400,
        -32022,
      ],
      [
        'an Mcp-Method header naming another method',
        { method: 'tools/list', headers: { 'Mcp-Method': 'tools/call' } },
        400,
        -32020,
      ],
      [
        'no Mcp-Method header',
        { method: 'tools/list', headers: { 'Mcp-Method': undefined } },
        400,
        -32020,
      ],
      [
        'no MCP-Protocol-Version header',
        { method: 'tools/list', headers: { 'MCP-Protocol-Version': undefined } },
        400,
        -32020,
      ],
      [
        'a tools/call without Mcp-Name',
        {
          method: 'tools/call',
          params: { name: 'add', arguments: { a: 1, b: 1 } },
          headers: { 'Mcp-Name': undefined },
        },
        400,
        -32020,
      ],
      ['an unknown method', { method: 'tools/frobnicate' }, 404, -32601],
      ['an enveloped ping (removed in this era)', { method: 'ping' }, 404, -32601],
      [
        'an enveloped logging/setLevel (removed in this era)',
        { method: 'logging/setLevel', params: { level: 'info' } },
        404,
        -32601,
      ],
    ])('%s: refused with its HTTP status and JSON-RPC code', async (_, call, status, code) => {
      const r = await modernPost(p, slug, auth, call);
      expect(r.status).toBe(status);
      expect(final(r.messages)?.error?.code).toBe(code);
    });

    it('lists the supported versions when refusing one', async () => {
      const r = await modernPost(p, slug, auth, {
        method: 'tools/list',
        meta: { 'io.modelcontextprotocol/protocolVersion': '2027-01-01' },
        headers: { 'MCP-Protocol-Version': '2027-01-01' },
      });
      expect(final(r.messages)?.error?.data).toMatchObject({ supported: [MODERN] });
    });

    it('a modern version header without an envelope is -32602, not a 2025 request', async () => {
      const r = await rawPost(p, slug, toolsCall('add', { a: 1, b: 1 }), {
        ...auth,
        'MCP-Protocol-Version': MODERN,
        'Mcp-Method': 'tools/call',
        'Mcp-Name': 'add',
      });
      expect(r.status).toBe(400);
      expect(final(r.messages)?.error?.code).toBe(-32602);
    });

    it('an Mcp-Name that disagrees with the body is -32020, never a way past the scope check', async () => {
      const t = await p.admin.tenantWithKey([]);
      // The body names a tool the key may not call; the header names one it may.
      const r = await modernPost(p, t.slug, bearer(t.key), {
        method: 'tools/call',
        params: { name: 'add', arguments: { a: 1, b: 1 } },
        headers: { 'Mcp-Name': 'whoami' },
      });
      expect(r.status).toBe(400);
      expect(final(r.messages)?.error?.code).toBe(-32020);
      expect(r.text).not.toContain('"result"');
      // A later call marks where the audit log is complete: nothing ran add before it.
      await modernPost(p, t.slug, bearer(t.key), {
        method: 'tools/call',
        params: { name: 'whoami', arguments: {} },
      });
      await waitForAudit(p, t.slug, (e) => e.tool === 'whoami');
      const calls = await allAudit(p, t.slug, { action: 'tool.call' });
      expect(calls.map((e) => e.tool)).toEqual(['whoami']);
    });

    it('an Mcp-Name in its Base64 form is the same name: the scope check still answers 403', async () => {
      const b64 = (name: string) => `=?base64?${Buffer.from(name).toString('base64')}?=`;
      const call = (key: string) =>
        modernPost(p, slug, bearer(key), {
          method: 'tools/call',
          params: { name: 'add', arguments: { a: 3, b: 4 } },
          headers: { 'Mcp-Name': b64('add') },
        });
      const served = await call(auth.Authorization.slice('Bearer '.length));
      expect(served.status).toBe(200);
      expect(final(served.messages)?.result).toMatchObject({ structuredContent: { result: 7 } });
      const noScope = await p.admin.createKey(slug, { name: 'no-scope' });
      const refused = await call(noScope.secret);
      expect(refused.status).toBe(403);
      expect(refused.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
      const garbled = await modernPost(p, slug, auth, {
        method: 'tools/call',
        params: { name: 'add', arguments: { a: 3, b: 4 } },
        headers: { 'Mcp-Name': '=?base64?not base64!?=' },
      });
      expect({ status: garbled.status, code: final(garbled.messages)?.error?.code }).toEqual({
        status: 400,
        code: -32020,
      });
    });

    it('header names are case-insensitive and values trimmed', async () => {
      const r = await modernPost(p, slug, auth, {
        method: 'tools/call',
        params: { name: 'add', arguments: { a: 2, b: 2 } },
        headers: { 'Mcp-Name': undefined, 'mcp-name': '  add ' },
      });
      expect(r.status).toBe(200);
      expect(final(r.messages)?.result).toMatchObject({ structuredContent: { result: 4 } });
    });
  });

  describe('progress, logging and cancellation', () => {
    it('sends log messages only when the request asked for a level', async () => {
      const t = await p.admin.tenantWithKey([]);
      const call = (meta: Record<string, unknown>) =>
        modernPost(p, t.slug, bearer(t.key), {
          method: 'tools/call',
          params: {
            name: 'test_count',
            arguments: { id: `log-${Math.random()}`, n: 3, delayMs: 0 },
          },
          meta,
        });
      const quiet = await call({});
      expect(final(quiet.messages)?.result).toMatchObject({
        content: [{ type: 'text', text: '{"counted":3}' }],
      });
      expect(rpc(quiet.messages).filter((m) => m.method === 'notifications/message')).toEqual([]);
      const chatty = await call({ 'io.modelcontextprotocol/logLevel': 'info' });
      const logs = rpc(chatty.messages).filter((m) => m.method === 'notifications/message');
      expect(logs.map((m) => m.params?.data)).toEqual([
        'step 1 of 3',
        'step 2 of 3',
        'step 3 of 3',
      ]);
      expect(logs[0].params).toMatchObject({ level: 'info', logger: 'test_count' });
      const warningsOnly = await call({ 'io.modelcontextprotocol/logLevel': 'warning' });
      expect(
        rpc(warningsOnly.messages).filter((m) => m.method === 'notifications/message'),
      ).toEqual([]);
    });

    it('streams progress on the request’s own response', async () => {
      const t = await p.admin.tenantWithKey([]);
      const client = await modern(t.slug, bearer(t.key));
      const seen: string[] = [];
      const result = await client.callTool(
        { name: 'test_count', arguments: { id: 'progress', n: 3, delayMs: 5 } },
        { onprogress: (pr) => seen.push(`${pr.progress}/${pr.total}`) },
      );
      expect(result.content).toEqual([{ type: 'text', text: '{"counted":3}' }]);
      expect(seen).toEqual(['1/3', '2/3', '3/3']);
    });

    it('closing the response stream cancels the call: the tool’s abort signal fires', async () => {
      const t = await p.admin.tenantWithKey([]);
      const client = await modern(t.slug, bearer(t.key));
      const id = `cancel-${Math.random()}`;
      const abort = new AbortController();
      const call = client.callTool(
        { name: 'test_count', arguments: { id, n: 200, delayMs: 20 } },
        { signal: abort.signal, onprogress: () => undefined },
      );
      await eventually('the call to start', () => countEvents.find((e) => e.id === id));
      await sleep(100);
      abort.abort('stop');
      await expect(call).rejects.toThrow();
      const event = await eventually('the tool to see the abort', () => {
        const e = countEvents.find((x) => x.id === id);
        return e?.abortedAt !== undefined ? e : undefined;
      });
      expect(event.finished).toBeUndefined();
      expect(event.abortedAt).toBeLessThan(200);
    });
  });

  describe('subscriptions/listen', () => {
    it('acknowledges first, then tells of grant changes of its own tenant only', async () => {
      const a = await p.admin.tenantWithKey(['math:use']);
      const b = await p.admin.tenantWithKey(['math:use']);
      const listenA = await openListen(p, a.slug, bearer(a.key));
      const listenB = await openListen(p, b.slug, bearer(b.key));
      try {
        expect(listenA.status).toBe(200);
        await eventually('the acknowledgement', () => listenA.messages[0]);
        expect(listenA.messages[0]).toMatchObject({
          method: 'notifications/subscriptions/acknowledged',
          params: { notifications: { toolsListChanged: true } },
        });
        await p.admin.setTool(a.slug, 'add', false);
        const changed = await eventually('list_changed on A', () =>
          rpc(listenA.messages).find((m) => m.method === 'notifications/tools/list_changed'),
        );
        expect(changed.params?._meta).toMatchObject({
          'io.modelcontextprotocol/subscriptionId': listenA.id,
        });
        await sleep(300);
        expect(rpc(listenB.messages).map((m) => m.method)).toEqual([
          'notifications/subscriptions/acknowledged',
        ]);
        // B's stream works: its own change reaches it.
        await p.admin.setTool(b.slug, 'add', false);
        await eventually('list_changed on B', () =>
          rpc(listenB.messages).find((m) => m.method === 'notifications/tools/list_changed'),
        );
      } finally {
        listenA.close();
        listenB.close();
      }
    });

    it('a v2 client’s listen sees a grant change, and its next list shows it', async () => {
      const t = await p.admin.tenantWithKey(['math:use']);
      const client = await modern(t.slug, bearer(t.key));
      const changes: unknown[] = [];
      client.setNotificationHandler('notifications/tools/list_changed', (n) => {
        changes.push(n);
      });
      const sub = await client.listen({ toolsListChanged: true });
      expect(sub.honoredFilter).toEqual({ toolsListChanged: true });
      expect((await client.listTools()).tools.map((x) => x.name)).toContain('subtract');
      await p.admin.setTool(t.slug, 'subtract', false);
      await eventually('list_changed', () => changes[0]);
      expect((await client.listTools()).tools.map((x) => x.name)).not.toContain('subtract');
      await sub.close();
      expect(await sub.closed).toBe('local');
    });

    it('ends the stream of a revoked key; the key cannot listen again', async () => {
      const t = await p.admin.tenantWithKey([]);
      const other = await p.admin.createKey(t.slug, { name: 'other' });
      const revoked = await openListen(p, t.slug, bearer(t.key));
      const kept = await openListen(p, t.slug, bearer(other.secret));
      try {
        await eventually('both acknowledgements', () =>
          revoked.messages[0] && kept.messages[0] ? true : undefined,
        );
        await p.admin.revokeKey(t.slug, t.keyId);
        await expect(revoked.ended).resolves.toEqual({ graceful: false });
        const again = await openListen(p, t.slug, bearer(t.key));
        expect(again.status).toBe(401);
        await sleep(100);
        expect(rpc(kept.messages).at(-1)?.method).toBe('notifications/tools/list_changed');
      } finally {
        kept.close();
      }
    });

    it('ends the stream when its key expires: it is never listening on a dead credential', async () => {
      const t = await p.admin.createTenant();
      const key = await p.admin.createKey(t.slug, {
        expiresAt: new Date(Date.now() + 2_500).toISOString(),
      });
      const listen = await openListen(p, t.slug, bearer(key.secret));
      await eventually('the acknowledgement', () => listen.messages[0]);
      const ended = await Promise.race([listen.ended, sleep(10_000).then(() => 'still open')]);
      expect(ended).toEqual({ graceful: false });
      expect((await openListen(p, t.slug, bearer(key.secret))).status).toBe(401);
    });

    it('ends the stream of a rotated-away secret when its grace period ends', async () => {
      const t = await p.admin.tenantWithKey([]);
      const old = await openListen(p, t.slug, bearer(t.key));
      await eventually('the acknowledgement', () => old.messages[0]);
      const fresh = await p.admin.rotateKey(t.slug, t.keyId, { graceSeconds: 2 });
      // The rotation is a change of the key: its streams end, and the old secret may listen
      // again while its grace lasts, then no more.
      await old.ended;
      const again = await openListen(p, t.slug, bearer(t.key));
      expect(again.status).toBe(200);
      const ended = await Promise.race([again.ended, sleep(10_000).then(() => 'still open')]);
      expect(ended).toEqual({ graceful: false });
      expect((await openListen(p, t.slug, bearer(t.key))).status).toBe(401);
      const current = await openListen(p, t.slug, bearer(fresh.secret));
      expect(current.status).toBe(200);
      current.close();
    });

    it('holds no request slot: a key capped at one request in flight can listen and call', async () => {
      const t = await p.admin.tenantWithKey(['math:use']);
      await p.admin.patchTenant(t.slug, { rateLimits: { keyConcurrency: 1 } });
      const listen = await openListen(p, t.slug, bearer(t.key));
      try {
        await eventually('the acknowledgement', () => listen.messages[0]);
        for (let i = 0; i < 3; i++) {
          const call = await modernPost(p, t.slug, bearer(t.key), {
            method: 'tools/call',
            params: { name: 'add', arguments: { a: i, b: 1 } },
          });
          expect(call.status).toBe(200);
        }
      } finally {
        listen.close();
      }
    });

    it(`allows ${8} streams per credential, and answers one more with 429`, async () => {
      const t = await p.admin.tenantWithKey([]);
      const streams = await Promise.all(
        Array.from({ length: 8 }, () => openListen(p, t.slug, bearer(t.key))),
      );
      try {
        expect(streams.map((l) => l.status)).toEqual(Array(8).fill(200));
        const extra = await openListen(p, t.slug, bearer(t.key));
        expect(extra.status).toBe(429);
        const other = await p.admin.createKey(t.slug, { name: 'other' });
        const theirs = await openListen(p, t.slug, bearer(other.secret));
        expect(theirs.status).toBe(200);
        theirs.close();
      } finally {
        streams.forEach((l) => l.close());
      }
    });

    it('a rename leaves streams and calls in flight alone', async () => {
      const t = await p.admin.tenantWithKey([]);
      const listen = await openListen(p, t.slug, bearer(t.key));
      await eventually('the acknowledgement', () => listen.messages[0]);
      const call = modernPost(p, t.slug, bearer(t.key), {
        method: 'tools/call',
        params: {
          name: 'test_count',
          arguments: { id: `rename-${Math.random()}`, n: 10, delayMs: 50 },
        },
      });
      await sleep(150);
      await p.admin.patchTenant(t.slug, { name: 'Renamed' });
      const answer = await call;
      expect(final(answer.messages)?.result).toMatchObject({
        content: [{ type: 'text', text: '{"counted":10}' }],
      });
      await sleep(200);
      expect(await Promise.race([listen.ended, sleep(50).then(() => 'open')])).toBe('open');
      listen.close();
    });

    it('ends gracefully when the tenant is suspended', async () => {
      const t = await p.admin.tenantWithKey([]);
      const listen = await openListen(p, t.slug, bearer(t.key));
      await eventually('the acknowledgement', () => listen.messages[0]);
      await p.admin.patchTenant(t.slug, { status: 'suspended' });
      await expect(listen.ended).resolves.toEqual({ graceful: true });
      expect((await openListen(p, t.slug, bearer(t.key))).status).toBe(403);
    });
  });

  describe('protocol posture', () => {
    it('modern-only: 2025 traffic gets the 2026-07-28 refusals, modern clients are served', async () => {
      const t = await p.admin.tenantWithKey(['math:use']);
      expect((await p.admin.patchTenant(t.slug, { protocol: 'modern-only' })).protocol).toBe(
        'modern-only',
      );
      const init = await rawPost(p, t.slug, initializeRequest(), bearer(t.key));
      expect(init.status).toBe(400);
      expect(final(init.messages)?.error?.code).toBe(-32022);
      const get = await rawGetStream(p, t.slug, bearer(t.key));
      expect(get.status).toBe(405);
      const del = await rawDelete(p, t.slug, bearer(t.key), 'x');
      expect(del.status).toBe(405);
      const sse = await rawGetStream(p, t.slug, bearer(t.key), 'sse');
      expect(sse.status).toBe(405);
      const v1 = new V1Client({ name: 'e2e-v1', version: '1.0.0' });
      await expect(
        v1.connect(
          new V1Transport(new URL(`${baseUrl(p)}/t/${t.slug}/mcp`), {
            requestInit: { headers: bearer(t.key) },
          }),
        ),
      ).rejects.toThrow();
      const client = await modern(t.slug, bearer(t.key), 'auto');
      expect(client.getProtocolEra()).toBe('modern');
      expect(
        (await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).structuredContent,
      ).toEqual({ result: 5 });
    });

    it('legacy-only: a discover probe gets a 2025 refusal, auto clients fall back, pinned ones fail', async () => {
      const t = await p.admin.tenantWithKey(['math:use']);
      await p.admin.patchTenant(t.slug, { protocol: 'legacy-only' });
      const probe = await modernPost(p, t.slug, bearer(t.key), { method: 'server/discover' });
      expect(probe.status).toBe(400);
      expect(probe.text).not.toContain('supportedVersions');
      const auto = await modern(t.slug, bearer(t.key), 'auto');
      expect(auto.getProtocolEra()).toBe('legacy');
      expect(
        (await auto.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).structuredContent,
      ).toEqual({ result: 5 });
      await expect(openModernClient(p, t.slug, bearer(t.key), { pin: MODERN })).rejects.toThrow();
    });

    it('dual is the default, shown on the tenant and refused when misspelt', async () => {
      const t = await p.admin.createTenant();
      expect(t).toMatchObject({ protocol: 'dual' });
      const bad = await p.admin.request('PATCH', `/admin/tenants/${t.slug}`, {
        protocol: 'modern',
      });
      expect(bad.status).toBe(400);
      expect(bad.text).toContain('protocol');
    });
  });

  it('counts requests and tool calls by era', async () => {
    const t = await p.admin.tenantWithKey(['math:use']);
    const before = await metricNow(p, 'mcp_requests_total', {
      era: MODERN,
      transport: 'streamable-http',
    });
    const callsBefore = await metricNow(p, 'mcp_tool_calls_total', { tenant: t.slug, era: MODERN });
    await modernPost(p, t.slug, bearer(t.key), {
      method: 'tools/call',
      params: { name: 'add', arguments: { a: 1, b: 1 } },
    });
    await modernPost(p, t.slug, bearer(t.key), { method: 'tools/list' });
    await rawPost(p, t.slug, initializeRequest(), { ...bearer(t.key), ...MCP_POST_HEADERS });
    expect(
      await metricNow(p, 'mcp_requests_total', { era: MODERN, transport: 'streamable-http' }),
    ).toBe(before + 2);
    expect(
      await metricNow(p, 'mcp_tool_calls_total', { tenant: t.slug, era: MODERN, outcome: 'ok' }),
    ).toBe(callsBefore + 1);
    expect(await metricNow(p, 'mcp_requests_total', { era: '2025' })).toBeGreaterThanOrEqual(1);
  });
});
