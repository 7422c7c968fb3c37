import { usePlatform } from './support/platform';
import { bearer, builtInToolNames, builtInToolsFor, TransportKind } from './support/mcp';

describe.each<TransportKind>(['streamable', 'sse'])('MCP endpoint over %s', (kind) => {
  const p = usePlatform();
  const open = (slug: string, key: string) => p.connect(slug, bearer(key), kind);

  it.each([[[]], [['math:use']], [['math:use', 'notes:read', 'notes:write']]])(
    'lists, of the built-in tools, exactly those the scopes %j allow',
    async (scopes) => {
      const t = await p.admin.tenantWithKey(scopes);
      const names = await builtInToolNames(await open(t.slug, t.key));
      expect(names).toEqual(builtInToolsFor(scopes));
    },
  );

  it('lists the tools that need no scope to a key without scopes, and no others', async () => {
    const t = await p.admin.tenantWithKey([]);
    expect(await builtInToolNames(await open(t.slug, t.key))).toEqual(['echo', 'whoami']);
  });

  it('calls tools and returns structured results', async () => {
    const t = await p.admin.tenantWithKey(['math:use']);
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
    const t = await p.admin.tenantWithKey(['math:use']);
    const c = await open(t.slug, t.key);
    const res = await c.callTool({ name: 'add', arguments: { a: 'two', b: 1 } });
    expect(res.isError).toBe(true);
    expect((res.content as { text: string }[])[0].text).toMatch(
      /invalid arguments for add: a: .*number/,
    );
  });
});
