import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { baseUrl, Target } from './admin';
import { RawResponse } from './http';
import { MCP_POST_HEADERS, nextRpcId, rawMcp } from './mcp';

/** The 2026-07-28 revision: no initialize, an envelope on every request. */
export const MODERN = '2026-07-28';

export type NegotiationMode = { pin: typeof MODERN } | 'auto' | 'legacy';

/** A real v2 SDK client (`@modelcontextprotocol/client`) on a tenant's endpoint. */
export async function openModernClient(
  target: Target,
  slug: string,
  headers: Record<string, string>,
  mode: NegotiationMode = { pin: MODERN },
): Promise<Client> {
  const client = new Client(
    { name: 'e2e-modern', version: '1.0.0' },
    { versionNegotiation: { mode } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${baseUrl(target)}/t/${slug}/mcp`), {
      requestInit: { headers },
    }),
  );
  return client;
}

/** The `_meta` envelope of a 2026-07-28 request; `over` replaces or (undefined) removes keys. */
export function envelope(over: Record<string, unknown> = {}): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'raw-e2e', version: '1.0.0' },
    ...over,
  };
  for (const k of Object.keys(meta)) if (meta[k] === undefined) delete meta[k];
  return meta;
}

export interface ModernCall {
  method: string;
  params?: Record<string, unknown>;
  /** Replaces envelope keys (undefined removes one). */
  meta?: Record<string, unknown>;
  /** Replaces the standard headers (undefined removes one). */
  headers?: Record<string, string | undefined>;
  id?: number;
  timeoutMs?: number;
}

/** A 2026-07-28 request with the standard headers a conforming client sends (see ModernCall). */
export function modernRequest(
  method: string,
  params?: Record<string, unknown>,
  over: Pick<ModernCall, 'meta' | 'headers' | 'id'> = {},
): { headers: Record<string, string>; body: Record<string, unknown> } {
  // Mcp-Name carries what the body names: a tool or prompt name, or a resource URI.
  const named = params?.name ?? params?.uri;
  const headers: Record<string, string | undefined> = {
    ...MCP_POST_HEADERS,
    'MCP-Protocol-Version': MODERN,
    'Mcp-Method': method,
    ...(typeof named === 'string' ? { 'Mcp-Name': named } : {}),
    ...over.headers,
  };
  for (const k of Object.keys(headers)) if (headers[k] === undefined) delete headers[k];
  return {
    headers: headers as Record<string, string>,
    body: {
      jsonrpc: '2.0',
      id: over.id ?? nextRpcId(),
      method,
      params: { ...params, _meta: envelope(over.meta) },
    },
  };
}

/** One raw 2026-07-28 POST (auth headers first, so a call's own headers may replace them). */
export function modernPost(
  target: Target,
  slug: string,
  auth: Record<string, string>,
  c: ModernCall,
): Promise<RawResponse> {
  const { headers, body } = modernRequest(c.method, c.params, {
    ...c,
    headers: { ...auth, ...c.headers },
  });
  return rawMcp(target, slug, { headers, body, timeoutMs: c.timeoutMs });
}

/** A raw `subscriptions/listen` stream: its messages as they arrive, and how it ended. */
export interface ListenStream {
  status: number;
  /** The listen request's id: the subscription id its events carry. */
  id: number;
  messages: Record<string, unknown>[];
  /** Resolves when the stream ends, with whether its last message was the listen result. */
  ended: Promise<{ graceful: boolean }>;
  close(): void;
}

export async function openListen(
  target: Target,
  slug: string,
  auth: Record<string, string>,
  filter: Record<string, boolean> = { toolsListChanged: true },
): Promise<ListenStream> {
  const abort = new AbortController();
  const id = nextRpcId();
  const res = await fetch(`${baseUrl(target)}/t/${slug}/mcp`, {
    method: 'POST',
    signal: abort.signal,
    headers: {
      ...MCP_POST_HEADERS,
      'MCP-Protocol-Version': MODERN,
      'Mcp-Method': 'subscriptions/listen',
      ...auth,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'subscriptions/listen',
      params: { notifications: filter, _meta: envelope() },
    }),
  });
  const messages: Record<string, unknown>[] = [];
  const ended = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = event
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('\n');
          if (data) messages.push(JSON.parse(data) as Record<string, unknown>);
        }
      }
    } catch {
      // Aborted or cut: the messages so far say how it ended.
    }
    const last = messages.at(-1);
    return { graceful: !!last && last.id === id && 'result' in last };
  })();
  return { status: res.status, id, messages, ended, close: () => abort.abort() };
}
