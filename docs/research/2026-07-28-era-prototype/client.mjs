// Clients against the prototype: v2 Client pinned to 2026-07-28, v2 in 'auto', v1 Client (2025 sessions).
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const URL_ = new URL('http://127.0.0.1:3999/t/acme/mcp');
const requestInit = { headers: { Authorization: 'Bearer math:use' } };
const info = { name: 'proto-client', version: '1.0.0' };

async function v2(mode) {
  const client = new Client(info, { versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(URL_, { requestInit }));
  const tools = await client.listTools();
  const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
  console.log(`[v2 ${JSON.stringify(mode)}] era=${client.getProtocolEra()} server=${JSON.stringify(client.getServerVersion())} tools=${tools.tools.map((t) => t.name)} add=${JSON.stringify(sum.structuredContent)}`);
  return client;
}

const pinned = await v2({ pin: '2026-07-28' });
const auto = await v2('auto');

// progress on the request's own SSE stream
const progress = [];
const r = await pinned.callTool({ name: 'slow', arguments: { n: 3 } }, { onprogress: (p) => progress.push(`${p.progress}/${p.total}`) });
console.log(`[v2 pinned] slow -> ${JSON.stringify(r.structuredContent)} progress=${progress.join(',')}`);

// cancellation: abort closes the SSE response stream -> server handler's signal aborts
const ac = new AbortController();
setTimeout(() => ac.abort('user clicked stop'), 250);
await pinned.callTool({ name: 'slow', arguments: { n: 20 } }, { signal: ac.signal, onprogress: () => {} }).catch((e) => console.log(`[v2 pinned] cancelled: ${e.name}: ${e.message}`));

// subscriptions/listen + a grant change
const events = [];
const sub = await pinned.listen({ toolsListChanged: true });
console.log(`[v2 pinned] listen honoredFilter=${JSON.stringify(sub.honoredFilter)}`);
pinned.setNotificationHandler('notifications/tools/list_changed', (n) => events.push(n));
await fetch('http://127.0.0.1:3999/_test/grants-changed/acme', { method: 'POST' });
await fetch('http://127.0.0.1:3999/_test/grants-changed/other-tenant', { method: 'POST' });
await new Promise((res) => setTimeout(res, 300));
console.log(`[v2 pinned] list_changed received: ${events.length} ${JSON.stringify(events[0]?.params ?? {})}`);
await sub.close?.();

// v1 client (2025-11-25 initialize + Mcp-Session-Id)
const v1 = new V1Client(info);
const t1 = new V1Transport(URL_, { requestInit });
await v1.connect(t1);
const s1 = await v1.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
console.log(`[v1] session=${t1.sessionId?.slice(0, 8)}… protocol=${t1.protocolVersion} add=${JSON.stringify(s1.structuredContent)}`);

// v2 client default mode (legacy handshake, no probe) also works
const legacyV2 = await v2('legacy');
await Promise.all([pinned.close(), auto.close(), v1.close(), legacyV2.close()]);
