import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startPlatform, TestPlatform } from './support/platform';
import { bearer, connect, TransportKind, tenantWithKey, toolNames } from './support/mcp';

describe.each<TransportKind>(['streamable', 'sse'])('MCP endpoint over %s', (kind) => {
  let p: TestPlatform;
  const clients: Client[] = [];
  const open = async (slug: string, key: string) => {
    const c = await connect(p, slug, bearer(key), kind);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    p = await startPlatform();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await p.close();
  });

  it('lists exactly the tools a key’s scopes allow', async () => {
    const none = await tenantWithKey(p, []);
    expect(await toolNames(await open(none.slug, none.key))).toEqual(['echo', 'whoami']);
    const math = await tenantWithKey(p, ['math:use']);
    expect(await toolNames(await open(math.slug, math.key))).toEqual([
      'add',
      'echo',
      'subtract',
      'whoami',
    ]);
    const all = await tenantWithKey(p, ['math:use', 'notes:read', 'notes:write']);
    expect(await toolNames(await open(all.slug, all.key))).toEqual([
      'add',
      'echo',
      'notes_create',
      'notes_delete',
      'notes_get',
      'notes_list',
      'notes_search',
      'subtract',
      'whoami',
    ]);
  });

  it('calls tools and returns structured results', async () => {
    const t = await tenantWithKey(p, ['math:use']);
    const c = await open(t.slug, t.key);
    const sum = await c.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    expect(sum.structuredContent).toEqual({ result: 42 });
    const who = await c.callTool({ name: 'whoami', arguments: {} });
    expect(who.structuredContent).toMatchObject({
      tenant: t.slug,
      kind: 'api-key',
      id: t.keyId,
      scopes: ['math:use'],
    });
    const echo = await c.callTool({ name: 'echo', arguments: { text: 'héllo' } });
    expect(echo.content).toEqual([{ type: 'text', text: 'héllo' }]);
  });

  it('turns bad arguments into a readable tool error', async () => {
    const t = await tenantWithKey(p, ['math:use']);
    const c = await open(t.slug, t.key);
    const res = await c.callTool({ name: 'add', arguments: { a: 'two', b: 1 } });
    expect(res.isError).toBe(true);
    expect((res.content as { text: string }[])[0].text).toMatch(
      /invalid arguments for add: a: .*number/,
    );
  });
});
