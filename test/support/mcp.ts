import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { adminClient, baseUrl, bearer, Target, TenantWithKey } from './admin';
import { http, RawResponse } from './http';

export { bearer };

// ---------------------------------------------------------------------------------------------
// Built-in tools

/**
 * The built-in tools these suites know, with the scopes each needs. A tool added to the platform
 * later is not in here, so it changes no expectation: suites compare the built-ins among what a
 * client sees (a test about an allow-list compares everything it sees).
 */
export const BUILT_IN_TOOLS: Readonly<Record<string, readonly string[]>> = {
  whoami: [],
  echo: [],
  add: ['math:use'],
  subtract: ['math:use'],
  notes_create: ['notes:write'],
  notes_delete: ['notes:write'],
  notes_get: ['notes:read'],
  notes_list: ['notes:read'],
  notes_search: ['notes:read'],
};

/** The built-in tools a principal with `scopes` may see, sorted. */
export const builtInToolsFor = (scopes: string[]): string[] =>
  Object.entries(BUILT_IN_TOOLS)
    .filter(([, needs]) => needs.every((s) => scopes.includes(s)))
    .map(([name]) => name)
    .sort();

/** The built-in tools among `names`, sorted. */
export const builtInAmong = (names: string[]): string[] =>
  names.filter((n) => Object.hasOwn(BUILT_IN_TOOLS, n)).sort();

// ---------------------------------------------------------------------------------------------
// SDK clients

export type TransportKind = 'streamable' | 'sse';

/** A real SDK client on Streamable HTTP, and what its transport saw. */
export interface McpConnection {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** Settles once the standalone GET event stream (notifications outside a request) is open. */
  streamOpen: Promise<void>;
  /** Every following request carries `id` as X-Request-Id (none when undefined). */
  useRequestId(id: string | undefined): void;
  /** The X-Request-Id of every response, in order. */
  responseIds: string[];
  /** Every Mcp-Session-Id header a response carried. */
  sessionIds: string[];
}

export interface McpOptions {
  name?: string;
  /** false: the event stream is not reopened (a server that is going away). */
  reconnect?: boolean;
}

/** A real MCP SDK client connected over Streamable HTTP to a tenant's endpoint. */
export async function openMcp(
  target: Target,
  slug: string,
  headers: Record<string, string>,
  opts: McpOptions = {},
): Promise<McpConnection> {
  let requestId: string | undefined;
  const responseIds: string[] = [];
  const sessionIds: string[] = [];
  let opened!: () => void;
  const streamOpen = new Promise<void>((resolve) => (opened = resolve));
  const transport = new StreamableHTTPClientTransport(new URL(`${baseUrl(target)}/t/${slug}/mcp`), {
    requestInit: { headers },
    ...(opts.reconnect === false
      ? {
          reconnectionOptions: {
            maxRetries: 0,
            initialReconnectionDelay: 1_000,
            maxReconnectionDelay: 1_000,
            reconnectionDelayGrowFactor: 1,
          },
        }
      : {}),
    fetch: async (url, init) => {
      const sent = new Headers(init?.headers);
      if (requestId !== undefined) sent.set('X-Request-Id', requestId);
      const res = await fetch(url, { ...init, headers: sent });
      const rid = res.headers.get('x-request-id');
      if (rid) responseIds.push(rid);
      const sid = res.headers.get('mcp-session-id');
      if (sid) sessionIds.push(sid);
      if ((init?.method ?? 'GET') === 'GET' && res.ok) opened();
      return res;
    },
  });
  const client = new Client({ name: opts.name ?? 'e2e', version: '1.0.0' });
  if (opts.reconnect === false) client.onerror = () => undefined;
  await client.connect(transport);
  return {
    client,
    transport,
    streamOpen,
    useRequestId: (id) => (requestId = id),
    responseIds,
    sessionIds,
  };
}

/** A real MCP SDK client connected to a tenant's endpoint with the given headers. */
export async function connect(
  target: Target,
  slug: string,
  headers: Record<string, string>,
  kind: TransportKind = 'streamable',
): Promise<Client> {
  if (kind === 'streamable') return (await openMcp(target, slug, headers)).client;
  const client = new Client({ name: 'e2e', version: '1.0.0' });
  await client.connect(
    new SSEClientTransport(new URL(`${baseUrl(target)}/t/${slug}/sse`), {
      requestInit: { headers },
      eventSourceInit: {
        fetch: (url, init) =>
          fetch(url, {
            ...init,
            headers: { ...(init?.headers as Record<string, string>), ...headers },
          }),
      },
    }),
  );
  return client;
}

/** The names of the tools `client` lists, sorted. */
export async function toolNames(client: Client): Promise<string[]> {
  const { tools } = await client.listTools();
  return tools.map((t) => t.name).sort();
}

/** The built-in tools among those `client` lists, sorted. */
export const builtInToolNames = async (client: Client) => builtInAmong(await toolNames(client));

/** A fresh tenant with a key (tool-pack.e2e-spec.ts takes it from here). */
export const tenantWithKey = (target: Target, scopes: string[], tools?: string[]) =>
  adminClient(target).tenantWithKey(scopes, tools);

// ---------------------------------------------------------------------------------------------
// Raw HTTP, for what an SDK client would never send

/** What a Streamable HTTP client must send on every POST. */
export const MCP_POST_HEADERS = {
  Accept: 'application/json, text/event-stream',
  'Content-Type': 'application/json',
} as const;

/** The protocol version header a client sends after initialize (or in stateless mode). */
export const PROTOCOL_VERSION = { 'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION } as const;

export const initializeRequest = (id: number | string = 1) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'initialize',
  params: {
    protocolVersion: LATEST_PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: { name: 'raw-e2e', version: '1.0.0' },
  },
});

/** A tools/call; two calls whose answers are compared byte for byte keep the same id. */
export const toolsCall = (name: string, args: Record<string, unknown> = {}, id: number = 2) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

export const toolsList = (id = 3) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'tools/list',
  params: {},
});

let rpcIds = 1_000;
/** A JSON-RPC id no other request of this file uses (for requests in flight at the same time). */
export const nextRpcId = () => (rpcIds += 1);

/** One raw HTTP request to a tenant's MCP endpoint (or a path under it), read whole. */
export function rawMcp(
  target: Target,
  slug: string,
  init: {
    method?: string;
    headers?: Record<string, string | string[]>;
    body?: unknown;
    path?: string;
    timeoutMs?: number;
  },
): Promise<RawResponse> {
  return http(baseUrl(target), {
    method: init.method ?? 'POST',
    path: `/t/${slug}/${init.path ?? 'mcp'}`,
    headers: init.headers,
    body: init.body,
    timeoutMs: init.timeoutMs,
  });
}

/** A GET of a tenant's event stream (`mcp`, or the legacy `sse`), read whole. */
export const rawGetStream = (
  target: Target,
  slug: string,
  headers: Record<string, string>,
  path: 'mcp' | 'sse' = 'mcp',
) =>
  rawMcp(target, slug, {
    method: 'GET',
    path,
    headers: { ...headers, Accept: 'text/event-stream' },
  });

/** A DELETE of the session `sessionId`. */
export const rawDelete = (
  target: Target,
  slug: string,
  headers: Record<string, string>,
  sessionId: string,
) =>
  rawMcp(target, slug, { method: 'DELETE', headers: { ...headers, 'Mcp-Session-Id': sessionId } });

/** A POST with the headers a well-behaved client sends, plus `headers`. */
export function rawPost(
  target: Target,
  slug: string,
  body: unknown,
  headers: Record<string, string> = {},
  timeoutMs?: number,
): Promise<RawResponse> {
  return rawMcp(target, slug, { headers: { ...MCP_POST_HEADERS, ...headers }, body, timeoutMs });
}

/** A tools/call with an id of its own, in a session (its headers) or stateless. */
export const rawCall = (
  target: Target,
  slug: string,
  name: string,
  args: Record<string, unknown>,
  headers: Record<string, string>,
  timeoutMs?: number,
) =>
  rawPost(
    target,
    slug,
    toolsCall(name, args, nextRpcId()),
    { ...PROTOCOL_VERSION, ...headers },
    timeoutMs,
  );

export interface RawSession {
  id: string;
  /** Headers for a follow-up request in this session: credentials, session id, protocol version. */
  headers: Record<string, string>;
}

/**
 * Initializes a session by hand: `initialize`, then `notifications/initialized`, as a client
 * would. Returns the session id and the headers to use after it.
 */
export async function rawInitialize(
  target: Target,
  slug: string,
  auth: Record<string, string>,
): Promise<RawSession> {
  const init = await rawPost(target, slug, initializeRequest(nextRpcId()), auth);
  if (init.status !== 200) {
    throw new Error(`initialize answered ${init.status}: ${init.text}`);
  }
  const id = init.headers.get('mcp-session-id');
  if (!id) throw new Error('initialize answered without an Mcp-Session-Id header');
  const headers = { ...auth, 'Mcp-Session-Id': id, ...PROTOCOL_VERSION };
  const ack = await rawPost(
    target,
    slug,
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    headers,
  );
  if (ack.status !== 202) {
    throw new Error(`notifications/initialized answered ${ack.status}: ${ack.text}`);
  }
  return { id, headers };
}

/** A `tools/list` that needs no session (an app with MCP_STATELESS=true). */
export function statelessList(
  target: Target,
  slug: string,
  auth: Record<string, string>,
): Promise<RawResponse> {
  return rawPost(target, slug, toolsList(nextRpcId()), { ...auth, ...PROTOCOL_VERSION });
}

/** The names a stateless `tools/list` returns, sorted; fails unless it is answered with 200. */
export async function listToolNames(
  target: Target,
  slug: string,
  auth: Record<string, string>,
): Promise<string[]> {
  const res = await statelessList(target, slug, auth);
  const tools = res.status === 200 ? res.messages[0]?.result?.tools : undefined;
  if (!tools) throw new Error(`tools/list answered ${res.status}: ${res.text.slice(0, 300)}`);
  return tools.map((t) => t.name).sort();
}

/** The RFC 9728 metadata URL a tenant's 401 challenge must point at. */
export const resourceMetadataUrl = (p: { config: { publicUrl: string } }, slug: string) =>
  `${p.config.publicUrl}/.well-known/oauth-protected-resource/t/${slug}/mcp`;

/** Opens a legacy SSE stream by hand and returns the message endpoint it announces. */
export async function openLegacyStream(
  target: Target,
  slug: string,
  auth: Record<string, string>,
): Promise<{ endpoint: string; sessionId: string; close: () => void }> {
  const base = baseUrl(target);
  const abort = new AbortController();
  const res = await fetch(`${base}/t/${slug}/sse`, {
    headers: { ...auth, Accept: 'text/event-stream' },
    signal: abort.signal,
  });
  if (res.status !== 200 || !res.body) throw new Error(`GET /sse answered ${res.status}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the SSE stream ended before announcing its endpoint');
    buffered += decoder.decode(value, { stream: true });
    const endpoint = /event: endpoint\r?\ndata: (\S+)/.exec(buffered)?.[1];
    if (endpoint) {
      const sessionId = new URL(endpoint, base).searchParams.get('sessionId') ?? '';
      return {
        endpoint,
        sessionId,
        close: () => {
          abort.abort();
          reader.cancel().catch(() => undefined);
        },
      };
    }
  }
}

/** A message to a legacy SSE session's endpoint. */
export const legacyPost = (
  target: Target,
  slug: string,
  sessionId: string,
  body: unknown,
  auth: Record<string, string>,
) =>
  rawMcp(target, slug, {
    path: `messages?sessionId=${encodeURIComponent(sessionId)}`,
    headers: { ...auth, 'Content-Type': 'application/json' },
    body,
  });

export type { TenantWithKey };
