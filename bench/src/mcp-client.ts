import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { log } from './util';

/** The admin API's address and credential: a platform, or anything shaped like one. */
export interface AdminTarget {
  url: string;
  adminToken: string;
}

export type Headers = Record<string, string>;

export const MCP_HEADERS: Headers = {
  accept: 'application/json, text/event-stream',
  'content-type': 'application/json',
};

/** What every correct `add(40, 2)` response contains, JSON body or SSE frame alike. */
export const ADD_MARKER = '"structuredContent":{"result":42}';

/** A JSON-RPC message as far as the bench looks into one. */
export interface RpcMessage {
  id?: string | number;
  result?: {
    protocolVersion?: string;
    tools?: unknown[];
    content?: { text?: string }[];
    structuredContent?: { result?: unknown };
    isError?: boolean;
    resultType?: string;
  };
}

async function api(target: AdminTarget, method: string, path: string, body?: unknown) {
  const res = await fetch(`${target.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${target.adminToken}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

export async function createTenant(target: AdminTarget, slug: string): Promise<void> {
  const r = await api(target, 'POST', '/admin/tenants', { slug, name: `Bench ${slug}` });
  if (r.status !== 201) throw new Error(`POST /admin/tenants ${slug}: ${r.status} ${r.text}`);
}

/** A new key of tenant `slug`; resolves to its secret (the whole key). */
export async function createKey(
  target: AdminTarget,
  slug: string,
  scopes: string[],
  name = 'bench',
): Promise<string> {
  const r = await api(target, 'POST', `/admin/tenants/${slug}/keys`, { name, scopes });
  const secret = (r.json as { secret?: unknown } | undefined)?.secret;
  if (r.status !== 201 || typeof secret !== 'string') {
    throw new Error(`POST /admin/tenants/${slug}/keys: ${r.status} ${r.text}`);
  }
  return secret;
}

function parseEventStream(text: string): RpcMessage[] {
  const out: RpcMessage[] = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data.trim()) out.push(JSON.parse(data) as RpcMessage);
  }
  return out;
}

/** The JSON-RPC messages of a response body, JSON or SSE-framed; none when it does not parse. */
export function parseMessages(type: string, text: string): RpcMessage[] {
  try {
    if (type.includes('text/event-stream')) return parseEventStream(text);
    return text ? [JSON.parse(text) as RpcMessage] : [];
  } catch {
    return [];
  }
}

export async function mcpPost(url: string, message: unknown, headers: Headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...headers },
    body: JSON.stringify(message),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') || '';
  return {
    status: res.status,
    headers: res.headers,
    text,
    type,
    messages: parseMessages(type, text),
  };
}

export interface TimedResponse {
  ms: number;
  status: number | undefined;
  type: string;
  chunks: Buffer[];
}

/**
 * POSTs `body` (already serialised) over `agent` and resolves once the last byte of the response
 * body is in, with `ms` from sending to that byte. Nothing is decoded or parsed in between, so a
 * timing of it is the server's and the wire's, not the client's.
 */
export function timedPost(
  agent: Agent,
  url: string,
  body: Buffer,
  headers: Headers,
): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...MCP_HEADERS, ...headers, 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const ms = performance.now() - t0;
          const type = res.headers['content-type'] || '';
          resolve({ ms, status: res.statusCode, type, chunks });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const initializeMessage = (name: string) => ({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: {
    protocolVersion: LATEST_PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: { name, version: '1.0.0' },
  },
});

/**
 * Initializes a session by hand (initialize, then notifications/initialized) and returns the
 * headers every later request of the session carries.
 */
export async function openSession(
  url: string,
  headers: Headers = {},
  clientName = 'mcp-bench',
): Promise<Headers> {
  const init = await mcpPost(url, initializeMessage(clientName), headers);
  if (init.status !== 200) {
    throw new Error(`initialize at ${url}: ${init.status} ${init.text.slice(0, 300)}`);
  }
  const sessionId = init.headers.get('mcp-session-id');
  if (!sessionId) throw new Error(`initialize at ${url} answered without an Mcp-Session-Id header`);
  const version = init.messages[0]?.result?.protocolVersion || LATEST_PROTOCOL_VERSION;
  const sessionHeaders = {
    ...headers,
    'mcp-session-id': sessionId,
    'mcp-protocol-version': version,
  };
  const initialized = { jsonrpc: '2.0', method: 'notifications/initialized' };
  const ack = await mcpPost(url, initialized, sessionHeaders);
  if (ack.status !== 202) {
    throw new Error(`notifications/initialized at ${url}: ${ack.status} ${ack.text.slice(0, 300)}`);
  }
  return sessionHeaders;
}

const addCall = (id: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'add', arguments: { a: 40, b: 2 } },
});

export interface Verified {
  status: number;
  contentType: string;
}

/** One `add(40, 2)` outside the load: it must really answer 42, or the bench stops here. */
export async function verifyAdd(label: string, url: string, headers: Headers): Promise<Verified> {
  const r = await mcpPost(url, addCall('verify-1'), headers);
  const result = r.messages.find((m) => m.id === 'verify-1')?.result;
  let textResult: unknown;
  try {
    textResult = (JSON.parse(result?.content?.[0]?.text ?? 'null') as { result?: unknown } | null)
      ?.result;
  } catch {
    textResult = undefined;
  }
  const ok =
    r.status === 200 &&
    result?.structuredContent?.result === 42 &&
    textResult === 42 &&
    !result.isError &&
    r.text.includes(ADD_MARKER);
  if (!ok) {
    throw new Error(
      `VERIFICATION FAILED on ${label}: add(40, 2) did not return 42.\n` +
        `  HTTP ${r.status} ${r.type}\n  ${r.text.slice(0, 600)}`,
    );
  }
  const contentType = r.type.split(';')[0];
  log(`verified ${label}: add(40, 2) = 42 (${contentType})`);
  return { status: r.status, contentType };
}

/** The modern era's protocol revision: no initialize, no sessions, a `_meta` envelope per request. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

/** The headers of a modern-era request for `method` (and `name`, the tool of a `tools/call`). */
export const modernHeaders = (method: string, name?: string): Headers => ({
  'mcp-protocol-version': MODERN_PROTOCOL_VERSION,
  'mcp-method': method,
  ...(name === undefined ? {} : { 'mcp-name': name }),
});

/** The `_meta` envelope every modern-era request carries in its params. */
export const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
};

const modernAddCall = (id: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'add', arguments: { a: 40, b: 2 }, _meta: MODERN_META },
});

/**
 * Whether `text`, the first content item of an `add(40, 2)` result, says 42: the reference's
 * plain "42", or the platform's `{"result":42}`.
 */
function textSays42(text: string | undefined): boolean {
  try {
    const v = JSON.parse(text ?? 'null') as unknown;
    return v === 42 || (v as { result?: unknown } | null)?.result === 42;
  } catch {
    return false;
  }
}

/**
 * One modern-era `add(40, 2)` (2026-07-28 headers and `_meta` envelope, no session) outside the
 * load: it must answer a complete result whose text says 42 (and whose structuredContent, when
 * there is one, too), or the bench stops here. `headers` are the target's own (e.g. its key).
 */
export async function verifyModernAdd(
  label: string,
  url: string,
  headers: Headers,
): Promise<Verified> {
  const r = await mcpPost(url, modernAddCall('verify-1'), {
    ...headers,
    ...modernHeaders('tools/call', 'add'),
  });
  const result = r.messages.find((m) => m.id === 'verify-1')?.result;
  const ok =
    r.status === 200 &&
    result?.resultType === 'complete' &&
    !result.isError &&
    textSays42(result.content?.[0]?.text) &&
    (result.structuredContent === undefined || result.structuredContent.result === 42);
  if (!ok) {
    throw new Error(
      `VERIFICATION FAILED on ${label}: modern (${MODERN_PROTOCOL_VERSION}) add(40, 2) did not ` +
        `return a complete result of 42.\n  HTTP ${r.status} ${r.type}\n  ${r.text.slice(0, 600)}`,
    );
  }
  const contentType = r.type.split(';')[0];
  log(`verified ${label}: add(40, 2) = 42, resultType complete (${contentType})`);
  return { status: r.status, contentType };
}
