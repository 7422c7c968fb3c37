import {
  bearer,
  builtInToolsFor,
  builtInAmong,
  MCP_POST_HEADERS,
  rawMcp,
  initializeRequest,
} from './support/mcp';
import { MODERN, modernPost, openModernClient } from './support/mcp-modern';
import { usePlatform } from './support/platform';
import { withDiagnosticTools } from './support/diagnostic-tools';

describe('MCP 2026-07-28 era', () => {
  const p = usePlatform({}, { compose: withDiagnosticTools });

  it('a v2 client pinned to 2026-07-28 lists and calls exactly its allowed tools', async () => {
    const t = await p.admin.tenantWithKey(['math:use']);
    const client = await openModernClient(p, t.slug, bearer(t.key));
    expect(client.getProtocolEra()).toBe('modern');
    expect(client.getServerVersion()?.name).toBe('mcp-platform');
    const { tools } = await client.listTools();
    expect(builtInAmong(tools.map((x) => x.name))).toEqual(builtInToolsFor(['math:use']));
    const sum = await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } });
    expect(sum.structuredContent).toEqual({ result: 42 });
    await client.close();
  });

  it('raw discover', async () => {
    const t = await p.admin.tenantWithKey(['math:use']);
    const r = await modernPost(p, t.slug, bearer(t.key), { method: 'server/discover' });
    console.log(r.status, r.text);
    const l = await modernPost(p, t.slug, bearer(t.key), { method: 'tools/list' });
    console.log(l.status, l.text.slice(0, 300));
    const d = await modernPost(p, t.slug, bearer(t.key), {
      method: 'tools/call',
      params: { name: 'notes_list', arguments: {} },
    });
    console.log(d.status, d.headers.get('www-authenticate'), d.text);
    const i = await rawMcp(p, t.slug, {
      headers: { ...MCP_POST_HEADERS, ...bearer(t.key) },
      body: initializeRequest(),
    });
    console.log(i.status, i.text.slice(0, 200), MODERN);
  });
});
