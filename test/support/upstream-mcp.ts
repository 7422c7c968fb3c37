import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { McpServer as V1McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import {
  createMcpHandler,
  type McpHttpHandler,
  McpServer as V2McpServer,
} from '@modelcontextprotocol/server';
import { z } from 'zod';

/**
 * Real MCP servers on loopback, built with the official SDKs, for the platform to use as tool
 * sources: the v1 SDK (`@modelcontextprotocol/sdk`) for the 2025 eras and legacy HTTP+SSE, the
 * v2 SDK (`@modelcontextprotocol/server` + `/node`) for 2026-07-28.
 */
export type UpstreamKind = 'stateful-2025' | 'stateless-2025' | 'modern-2026' | 'sse';

export type HeaderMap = Record<string, string | string[] | undefined>;

export interface UpstreamMcp {
  /** The MCP endpoint: http://127.0.0.1:PORT/mcp, or for 'sse' the GET http://127.0.0.1:PORT/sse. */
  url: string;
  port: number;
  /** Every tools/call that got past the `requireHeader` gate (recorded at the HTTP layer). */
  calls: { tool: string; args: unknown; headers: HeaderMap }[];
  /** Every JSON-RPC request and notification received, rejected ones included. */
  requests: { method: string; headers: HeaderMap }[];
  /** Delays every tools/call answer by `ms` (cancellable); 0 turns it off. */
  setDelay(ms: number): void;
  /** Adds a tool echoing `<name>: <text>`; sessions that can be told get tools/list_changed. */
  addTool(name: string, description?: string): void;
  /** Closes the server and every connection. */
  stop(): Promise<void>;
  /** stop(), then listens again on the same port: no sessions, no delay, tools as before. */
  restart(): Promise<void>;
}

export interface UpstreamOptions {
  /** Any HTTP request without this header (exact value) is answered 401. */
  requireHeader?: { name: string; value: string };
  /** The server name reported in serverInfo. */
  name?: string;
}

type ToolResult = {
  content: { type: 'text'; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
};

interface ToolSpec {
  name: string;
  description: string;
  input: z.ZodObject;
  output?: z.ZodObject;
  run(
    args: Record<string, unknown>,
    ctx: { headers: HeaderMap; signal: AbortSignal },
  ): Promise<ToolResult>;
}

const text = (t: string): ToolResult => ({ content: [{ type: 'text', text: t }] });

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const BASE_TOOLS: ToolSpec[] = [
  {
    name: 'echo',
    description: 'Echoes the text back as "echo: <text>".',
    input: z.object({ text: z.string().describe('Text to echo') }),
    run: (args) => Promise.resolve(text(`echo: ${String(args.text)}`)),
  },
  {
    name: 'add',
    description: 'Adds two numbers: a + b.',
    input: z.object({ a: z.number(), b: z.number() }),
    output: z.object({ sum: z.number() }),
    run: (args) => {
      const out = { sum: Number(args.a) + Number(args.b) };
      return Promise.resolve({ ...text(JSON.stringify(out)), structuredContent: out });
    },
  },
  {
    name: 'slow',
    description: 'Waits ms milliseconds, then answers "slept <ms>".',
    input: z.object({ ms: z.number().int().min(0) }),
    run: async (args, { signal }) => {
      const ms = Number(args.ms);
      return (await pause(ms, signal))
        ? text(`slept ${ms}`)
        : { ...text('cancelled'), isError: true };
    },
  },
  {
    name: 'fail',
    description: 'Always answers a tool error.',
    input: z.object({}),
    run: () => Promise.resolve({ ...text('upstream failure'), isError: true }),
  },
  {
    name: 'headers',
    description: 'Answers the HTTP request headers it received, as JSON.',
    input: z.object({}),
    run: (_args, { headers }) => Promise.resolve(text(JSON.stringify(headers))),
  },
];

function addedTool(name: string, description?: string): ToolSpec {
  return {
    name,
    description: description ?? `Echoes the text back as "${name}: <text>".`,
    input: z.object({ text: z.string() }),
    run: (args) => Promise.resolve(text(`${name}: ${String(args.text)}`)),
  };
}

/** Node's header object (v1 SDK) or a fetch Headers (v2 SDK), as a plain lowercased map. */
function lowercased(headers: Headers | HeaderMap | undefined): HeaderMap {
  const out: HeaderMap = {};
  if (!headers) return out;
  const entries =
    typeof headers.entries === 'function'
      ? [...(headers as Headers).entries()]
      : Object.entries(headers as HeaderMap);
  for (const [k, v] of entries) out[k.toLowerCase()] = v;
  return out;
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  if (res.headersSent) return;
  res
    .writeHead(status, { 'Content-Type': 'application/json' })
    .end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** What one listening incarnation holds; restart() throws it away and builds another. */
interface Incarnation {
  http: HttpServer;
  /** Servers with a session that a tools/list_changed can reach. */
  sessions: Set<V1McpServer>;
  /** Everything to close on stop(). */
  open: Set<{ close(): Promise<void> }>;
  modern?: McpHttpHandler;
}

export async function startUpstreamMcp(
  kind: UpstreamKind,
  opts: UpstreamOptions = {},
): Promise<UpstreamMcp> {
  const serverInfo = { name: opts.name ?? `upstream-${kind}`, version: '1.0.0' };
  const calls: UpstreamMcp['calls'] = [];
  const requests: UpstreamMcp['requests'] = [];
  const added: ToolSpec[] = [];
  let delayMs = 0;
  const tools = () => [...BASE_TOOLS, ...added];

  const invoke = async (
    spec: ToolSpec,
    args: unknown,
    headers: HeaderMap,
    signal: AbortSignal,
  ): Promise<ToolResult> => {
    if (delayMs > 0 && !(await pause(delayMs, signal))) {
      return { ...text('cancelled'), isError: true };
    }
    return spec.run((args ?? {}) as Record<string, unknown>, { headers, signal });
  };

  const registerV1 = (server: V1McpServer, spec: ToolSpec) =>
    server.registerTool(
      spec.name,
      { description: spec.description, inputSchema: spec.input, outputSchema: spec.output },
      (args: unknown, extra) =>
        invoke(spec, args, lowercased(extra.requestInfo?.headers), extra.signal),
    );
  const buildV1 = () => {
    const server = new V1McpServer(serverInfo);
    for (const spec of tools()) registerV1(server, spec);
    return server;
  };
  const buildV2 = () => {
    const server = new V2McpServer(serverInfo);
    for (const spec of tools()) {
      server.registerTool(
        spec.name,
        { description: spec.description, inputSchema: spec.input, outputSchema: spec.output },
        (args: unknown, ctx) =>
          invoke(spec, args, lowercased(ctx.http?.req?.headers), ctx.mcpReq.signal),
      );
    }
    return server;
  };

  let current: Incarnation | undefined;
  let port = 0;

  const boot = async (): Promise<void> => {
    const sessions = new Set<V1McpServer>();
    const open = new Set<{ close(): Promise<void> }>();
    const streamable = new Map<string, StreamableHTTPServerTransport>();
    const sse = new Map<string, SSEServerTransport>();
    const modern = kind === 'modern-2026' ? createMcpHandler(buildV2) : undefined;
    const modernNode = modern ? toNodeHandler(modern) : undefined;

    // A v1 server on a transport that lives as long as its session (or request).
    const attach = async (
      transport: StreamableHTTPServerTransport | SSEServerTransport,
      sessionful: boolean,
    ) => {
      const server = buildV1();
      const entry = { close: () => server.close() };
      open.add(entry);
      if (sessionful) sessions.add(server);
      transport.onclose = () => {
        open.delete(entry);
        sessions.delete(server);
        if (transport.sessionId) {
          streamable.delete(transport.sessionId);
          sse.delete(transport.sessionId);
        }
      };
      await server.connect(transport);
      return server;
    };

    const route = async (
      req: IncomingMessage,
      res: ServerResponse,
      path: string,
      body: unknown,
    ): Promise<void> => {
      if (kind === 'sse') {
        if (req.method === 'GET' && path === '/sse') {
          const transport = new SSEServerTransport('/messages', res);
          sse.set(transport.sessionId, transport);
          await attach(transport, true);
          return;
        }
        if (req.method === 'POST' && path === '/messages') {
          const id = new URL(req.url ?? '/', 'http://localhost').searchParams.get('sessionId');
          const transport = id ? sse.get(id) : undefined;
          if (!transport) return jsonRpcError(res, 404, -32001, 'Session not found');
          return transport.handlePostMessage(req, res, body);
        }
        return jsonRpcError(res, 404, -32601, 'Not found');
      }
      if (path !== '/mcp') return jsonRpcError(res, 404, -32601, 'Not found');
      if (modernNode) return modernNode(req, res, body);

      if (kind === 'stateless-2025') {
        if (req.method !== 'POST') {
          res.setHeader('Allow', 'POST');
          return jsonRpcError(res, 405, -32000, 'Method not allowed.');
        }
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        const server = await attach(transport, false);
        res.on('close', () => {
          void transport.close();
          void server.close();
        });
        return transport.handleRequest(req, res, body);
      }

      // stateful-2025: the SDK's session-map idiom.
      const sid = req.headers['mcp-session-id'];
      if (typeof sid === 'string') {
        const transport = streamable.get(sid);
        if (!transport) return jsonRpcError(res, 404, -32001, 'Session not found');
        return transport.handleRequest(req, res, body);
      }
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        return jsonRpcError(res, 400, -32000, 'Bad Request: No valid session ID provided');
      }
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void streamable.set(id, transport),
      });
      await attach(transport, true);
      return transport.handleRequest(req, res, body);
    };

    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      let body: unknown;
      if (req.method === 'POST') {
        const raw = await readBody(req);
        if (raw.trim()) {
          try {
            body = JSON.parse(raw);
          } catch {
            return jsonRpcError(res, 400, -32700, 'Parse error');
          }
        }
      }
      const headers = { ...req.headers };
      const messages = (Array.isArray(body) ? body : [body]) as {
        method?: unknown;
        params?: { name?: unknown; arguments?: unknown };
      }[];
      const named = messages.filter((m) => m && typeof m.method === 'string');
      for (const m of named) requests.push({ method: m.method as string, headers });

      const need = opts.requireHeader;
      if (need && req.headers[need.name.toLowerCase()] !== need.value) {
        res
          .writeHead(401, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ error: `missing or wrong ${need.name}` }));
        return;
      }
      for (const m of named) {
        if (m.method === 'tools/call') {
          calls.push({ tool: String(m.params?.name), args: m.params?.arguments, headers });
        }
      }
      await route(req, res, path, body);
    };

    const http = createServer((req, res) => {
      handle(req, res).catch((err: unknown) =>
        jsonRpcError(res, 500, -32603, `Internal error: ${(err as Error).message}`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => {
        http.off('error', reject);
        resolve();
      });
    });
    port = (http.address() as AddressInfo).port;
    current = { http, sessions, open, modern };
  };

  const stop = async (): Promise<void> => {
    const inc = current;
    if (!inc) return;
    current = undefined;
    const closed = new Promise<void>((resolve) => inc.http.close(() => resolve()));
    await Promise.allSettled([...inc.open].map((o) => o.close()));
    await inc.modern?.close();
    inc.http.closeAllConnections();
    await closed;
    // A client in this process (the platform under test, or the test's own fetch) shares the
    // event loop: let it see the FINs before anyone reuses a pooled keep-alive socket after
    // restart(), which would fail with "other side closed".
    await new Promise((resolve) => setTimeout(resolve, 20));
  };

  await boot();
  const path = kind === 'sse' ? '/sse' : '/mcp';
  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    calls,
    requests,
    setDelay: (ms) => {
      delayMs = ms;
    },
    addTool: (name, description) => {
      if (tools().some((t) => t.name === name)) throw new Error(`tool ${name} already exists`);
      const spec = addedTool(name, description);
      added.push(spec);
      if (!current) return;
      // v1 McpServer.registerTool on a connected server sends tools/list_changed itself.
      for (const server of current.sessions) registerV1(server, spec);
      current.modern?.notify.toolsChanged();
    },
    stop,
    restart: async () => {
      await stop();
      delayMs = 0;
      await boot();
    },
  };
}
