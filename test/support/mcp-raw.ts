import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { ADMIN, TestPlatform } from './platform';

/** What a Streamable HTTP client must send on every POST. */
export const MCP_POST_HEADERS = {
  Accept: 'application/json, text/event-stream',
  'Content-Type': 'application/json',
} as const;

export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body when it was JSON, else undefined. */
  json: unknown;
  /** JSON-RPC messages of the body: the JSON body itself, or every `data:` of an event stream. */
  messages: JsonRpcMessage[];
}

function parseEventStream(text: string): JsonRpcMessage[] {
  const out: JsonRpcMessage[] = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data.trim()) out.push(JSON.parse(data) as JsonRpcMessage);
  }
  return out;
}

/** Reads a response whole: JSON or a (finite) event stream. */
export async function readResponse(res: Response): Promise<RawResponse> {
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  let json: unknown;
  let messages: JsonRpcMessage[] = [];
  if (type.includes('text/event-stream')) {
    messages = parseEventStream(text);
  } else {
    try {
      json = JSON.parse(text);
      if (json && typeof json === 'object' && 'jsonrpc' in json) {
        messages = [json as JsonRpcMessage];
      }
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, text, json, messages };
}

/** One raw HTTP request to a tenant's MCP endpoint (or a path under it), read whole. */
export async function rawMcp(
  p: TestPlatform,
  slug: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown; path?: string },
): Promise<RawResponse> {
  const body =
    init.body === undefined
      ? undefined
      : typeof init.body === 'string'
        ? init.body
        : JSON.stringify(init.body);
  const res = await fetch(`${p.url}/t/${slug}/${init.path ?? 'mcp'}`, {
    method: init.method ?? 'POST',
    headers: init.headers,
    body,
  });
  return readResponse(res);
}

/** A POST with the headers a well-behaved client sends, plus `headers`. */
export function rawPost(
  p: TestPlatform,
  slug: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return rawMcp(p, slug, { headers: { ...MCP_POST_HEADERS, ...headers }, body });
}

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

export const toolsCall = (name: string, args: Record<string, unknown> = {}, id = 2) => ({
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
  p: TestPlatform,
  slug: string,
  auth: Record<string, string>,
): Promise<RawSession> {
  const init = await rawPost(p, slug, initializeRequest(), auth);
  if (init.status !== 200) {
    throw new Error(`initialize answered ${init.status}: ${init.text}`);
  }
  const id = init.headers.get('mcp-session-id');
  if (!id) throw new Error('initialize answered without an Mcp-Session-Id header');
  const headers = {
    ...auth,
    'Mcp-Session-Id': id,
    'MCP-Protocol-Version': LATEST_PROTOCOL_VERSION,
  };
  const ack = await rawPost(
    p,
    slug,
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    headers,
  );
  if (ack.status !== 202) {
    throw new Error(`notifications/initialized answered ${ack.status}: ${ack.text}`);
  }
  return { id, headers };
}

/**
 * An SDK Streamable HTTP client, plus a promise that settles once its standalone GET event
 * stream (where the server sends notifications outside a request) is open.
 */
export async function connectWithStream(
  p: TestPlatform,
  slug: string,
  headers: Record<string, string>,
): Promise<{ client: Client; streamOpen: Promise<void> }> {
  let opened!: () => void;
  const streamOpen = new Promise<void>((resolve) => (opened = resolve));
  const transport = new StreamableHTTPClientTransport(new URL(`${p.url}/t/${slug}/mcp`), {
    requestInit: { headers },
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      if ((init?.method ?? 'GET') === 'GET' && res.ok) opened();
      return res;
    },
  });
  const client = new Client({ name: 'e2e-stream', version: '1.0.0' });
  await client.connect(transport);
  return { client, streamOpen };
}

/** Resolves with the first value `check` returns that is not undefined, polling until `ms`. */
export async function within<T>(ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Resolves when `promise` does, or rejects after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: number }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: number };
  }
  throw new Error('expected the promise to reject, but it resolved');
}

export async function setTenantTool(
  p: TestPlatform,
  slug: string,
  tool: string,
  enabled: boolean,
): Promise<void> {
  await p
    .http()
    .put(`/admin/tenants/${slug}/tools/${tool}`)
    .set(ADMIN)
    .send({ enabled })
    .expect(200);
}

export const resourceMetadataFor = (p: TestPlatform, slug: string) =>
  `${p.config.publicUrl}/.well-known/oauth-protected-resource/t/${slug}/mcp`;

/** Opens a legacy SSE stream by hand and returns the message endpoint it announces. */
export async function openLegacyStream(
  p: TestPlatform,
  slug: string,
  auth: Record<string, string>,
): Promise<{ endpoint: string; sessionId: string; close: () => void }> {
  const abort = new AbortController();
  const res = await fetch(`${p.url}/t/${slug}/sse`, {
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
      const sessionId = new URL(endpoint, p.url).searchParams.get('sessionId') ?? '';
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
