import { startPlatform, TestPlatform } from './support/platform';
import { bearer, tenantWithKey } from './support/mcp';
import { MCP_POST_HEADERS, rawInitialize, rawMcp } from './support/mcp-raw';

describe('scratch', () => {
  let p: TestPlatform;
  beforeAll(async () => { p = await startPlatform(); });
  afterAll(async () => { await p.close(); });
  it('probes', async () => {
    const t = await tenantWithKey(p, ['math:use', 'notes:write']);
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    for (const depth of [1000, 100_000]) {
      const deep = '['.repeat(depth) + ']'.repeat(depth);
      for (const body of [
        `{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"_meta":{"x":${deep}}}}`,
        `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":${deep}}}}`,
        `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"notes_create","arguments":{"title":"x","body":"y","extra":${deep}}}}`,
        `{"jsonrpc":"2.0","id":${deep},"method":"tools/list"}`,
      ]) {
        const r = await rawMcp(p, t.slug, { headers: { ...MCP_POST_HEADERS, ...s.headers }, body });
        console.log(depth, body.slice(0, 60), r.status, r.text.slice(0, 200));
      }
      const init = await rawMcp(p, t.slug, { headers: { ...MCP_POST_HEADERS, ...bearer(t.key) }, body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"x":${deep}},"clientInfo":{"name":"a","version":"1"}}}` });
      console.log('init', depth, init.status, init.text.slice(0, 200));
    }
  });
});
