import { bearer, rawInitialize, rawPost } from './support/mcp';
import { modernPost } from './support/mcp-modern';
import { usePlatform } from './support/platform';

describe('explore', () => {
  const p = usePlatform();
  it('explores', async () => {
    const t = await p.admin.tenantWithKey(['math:use']);
    const out: string[] = [];
    const s = await rawInitialize(p, t.slug, bearer(t.key));
    for (const [method, params] of [['tools/list', { cursor: { a: 1 } }], ['resources/read', { uri: 5 }], ['resources/list', { cursor: 5 }], ['prompts/list', { cursor: [] }], ['resources/templates/list', { cursor: 1 }]] as const) {
      const r = await rawPost(p, t.slug, { jsonrpc: '2.0', id: 1, method, params }, s.headers);
      out.push(`2025 ${method} => ${r.status} ${r.text.slice(0, 200)}`);
      const m = await modernPost(p, t.slug, bearer(t.key), { method, params });
      out.push(`2026 ${method} => ${m.status} ${m.text.slice(0, 200)}`);
    }
    const xk = await modernPost(p, t.slug, { 'X-API-Key': t.key }, { method: 'tools/call', params: { name: 'whoami', arguments: {} } });
    out.push(`x-api-key => ${xk.status} ${xk.text.slice(0, 200)}`);
    require('fs').writeFileSync('/tmp/hm/out.txt', out.join('\n'));
  }, 120000);
});
