'use strict';
// Prototype: one endpoint /t/:tenant/mcp, two eras, CommonJS (like the Nest build), Node 20.
//  - modern (2026-07-28): @modelcontextprotocol/server createMcpHandler (legacy:'reject') + toNodeHandler,
//    one cached handler per tenant, factory returns a *low-level* Server with precomputed JSON-Schema lists.
//  - legacy (2025-xx): @modelcontextprotocol/sdk 1.x McpServer + StreamableHTTPServerTransport (stateful sessions).
// Routing: classifyInboundRequest (the same classifier isLegacyRequest runs) on the already-parsed body.
const express = require('express');
const { randomUUID } = require('node:crypto');
const v2 = require('@modelcontextprotocol/server');
const { toNodeHandler, toWebRequest } = require('@modelcontextprotocol/node');
const { Server: V1Server } = require('@modelcontextprotocol/sdk/server/index.js');
const { StreamableHTTPServerTransport } = require('@modelcontextprotocol/sdk/server/streamableHttp.js');
const V1Types = require('@modelcontextprotocol/sdk/types.js');

// ---- shared catalog (stand-in for ToolRegistry + decideToolAccess): plain JSON Schema, SDK-neutral
const CATALOG = [
  {
    name: 'add', description: 'Add two numbers', scopes: ['math:use'],
    inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
    run: async ({ a, b }) => ({ result: a + b }),
  },
  {
    name: 'slow', description: 'Counts to n with progress/log; honours abort', scopes: ['math:use'],
    inputSchema: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] },
    run: async ({ n }, ctx) => {
      for (let i = 1; i <= n; i++) {
        if (ctx.signal.aborted) { console.log(`[slow] aborted at ${i}: ${ctx.signal.reason}`); return { aborted: i }; }
        await ctx.progress(i, n);
        await ctx.log('info', `step ${i}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return { counted: n };
    },
  },
];
// principal from our own auth (here: "Bearer <scope,scope>"), like the global guard would set
function principalOf(req) {
  const h = req.headers.authorization || (process.env.ALLOW_ANON ? 'Bearer math:use' : '');
  if (!h.startsWith('Bearer ')) return undefined;
  return { id: 'key1', scopes: h.slice(7).split(',').filter(Boolean) };
}
const decideToolAccess = (tool, principal) => tool.scopes.every((s) => principal.scopes.includes(s));
const visibleTools = (principal) => CATALOG.filter((t) => decideToolAccess(t, principal));
const asToolResult = (value) => ({ content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value });
// one validator per tool, built once (fromJsonSchema binds AJV at creation)
const VALIDATORS = new Map(CATALOG.map((t) => [t.name, v2.fromJsonSchema(t.inputSchema)]));
let catalogVersion = 1; // bump on grant/catalog change -> invalidates precomputed lists

// ---- modern arm
const serverInfo = { name: 'mcp-platform-proto', version: '0.0.1' };
const listCache = new Map(); // `${catalogVersion}:${scopes}` -> tools/list result
function toolsListFor(principal) {
  const key = `${catalogVersion}:${principal.scopes.slice().sort().join(',')}`;
  let hit = listCache.get(key);
  if (!hit) {
    hit = { tools: visibleTools(principal).map(({ name, description, inputSchema }) => ({ name, description, inputSchema })) };
    listCache.set(key, hit);
  }
  // cache hints: principal-dependent -> private; short ttl so a grant change is never stale for long
  return { ...hit, ttlMs: 0, cacheScope: 'private' };
}
function buildModernServer({ authInfo }) {
  const principal = authInfo?.extra?.principal;
  const server = new v2.Server(serverInfo, {
    capabilities: { tools: { listChanged: true }, logging: {}, prompts: {}, resources: {} },
    cacheHints: { 'server/discover': { ttlMs: 60000, cacheScope: 'private' } },
  });
  server.setRequestHandler('tools/list', async () => toolsListFor(principal));
  // empty catalogs so the 'caching' scenario sees ttlMs/cacheScope on every cacheable list; SEP-2164 not-found shape
  server.setRequestHandler('prompts/list', async () => ({ prompts: [] }));
  server.setRequestHandler('resources/list', async () => ({ resources: [] }));
  server.setRequestHandler('resources/templates/list', async () => ({ resourceTemplates: [] }));
  server.setRequestHandler('resources/read', async (request) => {
    throw new v2.ProtocolError(-32602, 'Resource not found', { uri: request.params.uri });
  });
  server.setRequestHandler('tools/call', async (request, ctx) => {
    const tool = CATALOG.find((t) => t.name === request.params.name);
    if (!tool || !decideToolAccess(tool, principal)) {
      return { content: [{ type: 'text', text: `Unknown tool: ${request.params.name}` }], isError: true };
    }
    const parsed = await VALIDATORS.get(tool.name)['~standard'].validate(request.params.arguments ?? {});
    if (parsed.issues) return { content: [{ type: 'text', text: parsed.issues.map((i) => i.message).join('; ') }], isError: true };
    const token = ctx.mcpReq._meta?.progressToken;
    const value = await tool.run(parsed.value, {
      signal: ctx.mcpReq.signal,
      progress: async (progress, total) => {
        if (token !== undefined) await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress, total } });
      },
      log: (level, data) => ctx.mcpReq.log(level, data), // no-op unless the envelope carried logLevel
    });
    return asToolResult(value);
  });
  return server;
}
const modernHandlers = new Map(); // tenant -> { handler, node }
function modernFor(tenant) {
  let h = modernHandlers.get(tenant);
  if (!h) {
    const handler = v2.createMcpHandler(buildModernServer, {
      legacy: 'reject',
      onerror: (e) => process.env.DEBUG && console.error('[modern]', e.message),
    });
    h = { handler, node: toNodeHandler(handler) };
    modernHandlers.set(tenant, h);
  }
  return h;
}

// ---- legacy arm (SDK 1.x, stateful sessions)
function buildLegacyServer(principal) {
  const server = new V1Server({ name: serverInfo.name, version: serverInfo.version }, { capabilities: { tools: { listChanged: true }, logging: {} } });
  server.setRequestHandler(V1Types.ListToolsRequestSchema, async () => ({ tools: toolsListFor(principal).tools }));
  server.setRequestHandler(V1Types.CallToolRequestSchema, async (request, extra) => {
    const tool = CATALOG.find((t) => t.name === request.params.name);
    if (!tool || !decideToolAccess(tool, principal)) return { content: [{ type: 'text', text: 'Unknown tool' }], isError: true };
    const token = request.params._meta?.progressToken;
    const value = await tool.run(request.params.arguments ?? {}, {
      signal: extra.signal,
      progress: async (progress, total) => token !== undefined && extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, total } }),
      log: async () => {},
    });
    return asToolResult(value);
  });
  return server;
}
const sessions = new Map();

// adapter variant: JSON answers in one write (content-length, no chunked 2-writev), SSE streamed
async function fastModern(handler, req, res) {
  const ac = new AbortController();
  res.on('close', () => { if (!res.writableFinished) ac.abort(); });
  const request = await toWebRequest(req, req.body, { signal: ac.signal });
  const response = await handler.fetch(request, { authInfo: req.auth, parsedBody: req.body });
  const headers = Object.fromEntries(response.headers);
  if (!response.body || !(headers['content-type'] || '').startsWith('text/event-stream')) {
    const text = response.body ? await response.text() : '';
    headers['content-length'] = Buffer.byteLength(text);
    res.writeHead(response.status, headers).end(text);
    return;
  }
  res.writeHead(response.status, headers);
  try { for await (const chunk of response.body) { if (ac.signal.aborted) break; if (!res.write(chunk)) await new Promise((r) => res.once('drain', r)); } } catch {}
  res.end();
}

// ---- HTTP
const app = express();
const { localhostHostValidation, localhostOriginValidation } = require('@modelcontextprotocol/node');
const vHost = localhostHostValidation(), vOrigin = localhostOriginValidation();
app.use((req, res, next) => { if (vHost(req, res) && vOrigin(req, res)) next(); }); // stand-in for the platform's Origin/Host rules
app.use(express.json({ limit: '4mb' }));
app.all('/t/:tenant/mcp', async (req, res) => {
  const principal = principalOf(req);
  if (!principal) return res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'unauthorized' });
  const h1 = (n) => { const v = req.headers[n]; return Array.isArray(v) ? v[0] : v; };
  const outcome = v2.classifyInboundRequest({
    httpMethod: req.method,
    protocolVersionHeader: h1('mcp-protocol-version'),
    mcpMethodHeader: h1('mcp-method'),
    mcpNameHeader: h1('mcp-name'),
    body: req.method === 'POST' ? req.body : undefined,
  });
  if (process.env.CHECK_PREDICATE) {
    const viaPredicate = await v2.isLegacyRequest(await toWebRequest(req, req.body), req.body);
    if (viaPredicate !== (outcome.kind === 'legacy')) console.error('MISMATCH', outcome.kind, viaPredicate);
  }
  res.setHeader('X-Era', outcome.kind === 'legacy' ? 'legacy' : 'modern');
  if (outcome.kind !== 'legacy') {
    // our own per-request authorization, before the SDK sees the request
    if (outcome.kind === 'modern' && outcome.messageKind === 'request' && outcome.message.method === 'tools/call') {
      const tool = CATALOG.find((t) => t.name === outcome.message.params?.name);
      if (tool && !decideToolAccess(tool, principal)) {
        return res.status(403).set('WWW-Authenticate', `Bearer error="insufficient_scope", scope="${tool.scopes.join(' ')}"`).json({ error: 'insufficient_scope' });
      }
    }
    req.auth = { token: 'opaque', clientId: principal.id, scopes: principal.scopes, extra: { principal } };
    if (process.env.FAST_WRITE) return fastModern(modernFor(req.params.tenant).handler, req, res);
    return modernFor(req.params.tenant).node(req, res, req.body); // reject outcomes: the modern handler answers them
  }
  // legacy: sessionful v1 transport
  const sid = h1('mcp-session-id');
  let transport = sid ? sessions.get(sid) : undefined;
  if (!transport) {
    if (sid || !(req.method === 'POST' && V1Types.isInitializeRequest(req.body))) {
      return res.status(sid ? 404 : 400).json({ jsonrpc: '2.0', error: { code: -32000, message: sid ? 'Session not found' : 'Bad Request: no session' }, id: null });
    }
    transport = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (id) => sessions.set(id, transport) });
    transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
    await buildLegacyServer(principal).connect(transport);
  }
  await transport.handleRequest(req, res, req.body);
});

// change feed stand-in: bump catalog version and notify open listen streams of that tenant
app.post('/_test/grants-changed/:tenant', (req, res) => {
  catalogVersion++; listCache.clear();
  modernFor(req.params.tenant).handler.notify.toolsChanged();
  res.json({ ok: true, catalogVersion });
});

const port = Number(process.env.PORT || 3999);
const srv = app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/t/acme/mcp (node ${process.version})`));
process.on('SIGTERM', async () => {
  await Promise.all([...modernHandlers.values()].map((h) => h.handler.close())); // graceful listen close
  srv.close(() => process.exit(0));
});
