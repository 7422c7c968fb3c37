import { gzipSync } from 'node:zlib';
import { http } from './support/http';
import { bearer, MCP_POST_HEADERS } from './support/mcp';
import { envelope, MODERN, modernPost, modernRequest } from './support/mcp-modern';
import { usePlatform } from './support/platform';

describe('explore', () => {
  const p = usePlatform();
  it('explores', async () => {
    const t = await p.admin.tenantWithKey(['math:use']);
    const out: string[] = [];
    const log = (what: string, r: { status: number; text: string; headers?: Headers }) =>
      out.push(`${what} => ${r.status} ${r.headers?.get('content-type') ?? ''} ${r.text.slice(0, 250)}`);
    const H = { ...MCP_POST_HEADERS, ...bearer(t.key), 'MCP-Protocol-Version': MODERN };
    const send = (headers: Record<string, string>, body: string | Buffer, timeoutMs = 5000) =>
      http(p.url, { method: 'POST', path: `/t/${t.slug}/mcp`, headers: { ...H, ...headers }, body, timeoutMs }).catch((e: Error) => ({ status: -1, text: e.message, headers: undefined }));
    const big = modernRequest('tools/call', { name: 'add', arguments: { a: 1, b: 2, pad: 'x'.repeat(300_000) } });
    log('gzip add 300k', await send({ ...big.headers, 'Content-Encoding': 'gzip' }, gzipSync(JSON.stringify(big.body))));
    const huge = modernRequest('tools/call', { name: 'echo', arguments: { text: 'x', pad: 'x'.repeat(700_000) } });
    log('gzip echo 700k', await send({ ...huge.headers, 'Content-Encoding': 'gzip' }, gzipSync(JSON.stringify(huge.body))));
    log('gzip junk', await send({ 'Mcp-Method': 'tools/list', 'Content-Encoding': 'gzip' }, 'not gzip'));
    log('br junk', await send({ 'Mcp-Method': 'tools/list', 'Content-Encoding': 'br' }, 'not br'));
    log('enc x', await send({ 'Mcp-Method': 'tools/list', 'Content-Encoding': 'x-foo' }, '{}'));
    log('empty', await send({ 'Mcp-Method': 'tools/list' }, ''));
    log('null', await send({ 'Mcp-Method': 'tools/list' }, 'null'));
    log('bom', await send({ 'Mcp-Method': 'tools/list' }, '\ufeff' + JSON.stringify(modernRequest('tools/list').body)));
    log('lone', await send({ 'Mcp-Method': 'tools/call', 'Mcp-Name': 'x' }, JSON.stringify(modernRequest('tools/call', { name: 'x' }).body).replace('"x"', '"\\ud800"')));
    log('lone method', await send({ 'Mcp-Method': 'x' }, `{"jsonrpc":"2.0","id":1,"method":"\\ud800","params":{"_meta":${JSON.stringify(envelope())}}}`));
    log('lone id', await send({ 'Mcp-Method': 'tools/list' }, `{"jsonrpc":"2.0","id":"\\udfff","method":"tools/list","params":{"_meta":${JSON.stringify(envelope())}}}`));
    log('lone meta', await send({ 'Mcp-Method': 'tools/list' }, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"\\ud800":1},"io.modelcontextprotocol/clientInfo":{"name":"\\ud800","version":"\\udfff"}}}}`));
    log('echo lone', await send({ 'Mcp-Method': 'tools/call', 'Mcp-Name': 'echo' }, JSON.stringify(modernRequest('tools/call', { name: 'echo', arguments: { text: 'QQ' } }).body).replace('QQ', '\\ud800')));
    log('echo nul', await send({ 'Mcp-Method': 'tools/call', 'Mcp-Name': 'echo' }, JSON.stringify(modernRequest('tools/call', { name: 'echo', arguments: { text: 'a\u0000b' } }).body)));
    log('jsonrpc 1.0', await send({ 'Mcp-Method': 'tools/list' }, JSON.stringify({ ...modernRequest('tools/list').body, jsonrpc: '1.0' })));
    log('no jsonrpc', await send({ 'Mcp-Method': 'tools/list' }, JSON.stringify({ ...modernRequest('tools/list').body, jsonrpc: undefined })));
    log('result post', await send({ 'Mcp-Method': 'tools/list' }, JSON.stringify({ jsonrpc: '2.0', id: 1, result: { _meta: envelope() } })));
    log('error post', await send({ 'Mcp-Method': 'tools/list' }, JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: 1, message: 'x' } })));
    log('tools/list cursor obj', await send({ 'Mcp-Method': 'tools/list' }, JSON.stringify(modernRequest('tools/list', { cursor: { a: 1 } }).body)));
    log('tools/list cursor str', await send({ 'Mcp-Method': 'tools/list' }, JSON.stringify(modernRequest('tools/list', { cursor: 'zzz' }).body)));
    log('resources/read uri obj', await send({ 'Mcp-Method': 'resources/read' }, JSON.stringify(modernRequest('resources/read', { uri: { a: 1 } }).body)));
    log('resources/read uri bad', await send({ 'Mcp-Method': 'resources/read', 'Mcp-Name': 'not a uri' }, JSON.stringify(modernRequest('resources/read', { uri: 'not a uri' }).body)));
    log('call args str', await send({ 'Mcp-Method': 'tools/call', 'Mcp-Name': 'add' }, JSON.stringify(modernRequest('tools/call', { name: 'add', arguments: 'x' }).body)));
    log('call args arr', await send({ 'Mcp-Method': 'tools/call', 'Mcp-Name': 'add' }, JSON.stringify(modernRequest('tools/call', { name: 'add', arguments: [1, 2] }).body)));
    log('call name num', await send({ 'Mcp-Method': 'tools/call', 'Mcp-Name': '5' }, JSON.stringify(modernRequest('tools/call', { name: 5 }).body)));
    log('call name b64 bad', await send({ 'Mcp-Method': 'tools/call', 'Mcp-Name': '=?base64?!!?=' }, JSON.stringify(modernRequest('tools/call', { name: 'add' }).body)));
    log('call task', await send({ 'Mcp-Method': 'tools/call', 'Mcp-Name': 'add' }, JSON.stringify(modernRequest('tools/call', { name: 'add', arguments: { a: 1, b: 2 }, task: { ttl: 5 } }).body)));
    log('tasks/get', await send({ 'Mcp-Method': 'tasks/get', 'Mcp-Name': 'x' }, JSON.stringify(modernRequest('tasks/get', { taskId: 'x' }).body)));
    for (const filter of [5, 'x', null, [], { toolsListChanged: 'yes' }, { resourcesListChanged: true }, {}, { __proto__x: true }]) {
      log(`listen ${JSON.stringify(filter)}`, await send({ 'Mcp-Method': 'subscriptions/listen' }, JSON.stringify(modernRequest('subscriptions/listen', { notifications: filter }).body), 1500));
    }
    for (const protocol of ['modern-only', 'legacy-only']) {
      const u = await p.admin.tenantWithKey(['math:use']);
      await p.admin.patchTenant(u.slug, { protocol });
      for (const [what, c] of [
        ['list', { method: 'tools/list' }],
        ['bad env', { method: 'tools/list', meta: { 'io.modelcontextprotocol/clientCapabilities': 5 } }],
        ['no mcp-method', { method: 'tools/list', headers: { 'Mcp-Method': undefined } }],
        ['call b64', { method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 1 } }, headers: { 'Mcp-Name': '=?base64?YWRk?=' } }],
        ['version 2025', { method: 'tools/list', meta: { 'io.modelcontextprotocol/protocolVersion': '2025-06-18' }, headers: { 'MCP-Protocol-Version': '2025-06-18' } }],
      ] as const) {
        log(`${protocol} ${what}`, await modernPost(p, u.slug, bearer(u.key), c as never));
      }
      const batch = await http(p.url, { method: 'POST', path: `/t/${u.slug}/mcp`, headers: { ...MCP_POST_HEADERS, ...bearer(u.key), 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'tools/list' }, body: JSON.stringify([modernRequest('tools/list').body]) });
      log(`${protocol} batch`, batch);
    }
    require('fs').writeFileSync('/tmp/hm/out.txt', out.join('\n'));
  }, 120000);
});
