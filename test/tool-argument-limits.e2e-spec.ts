import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { usePlatform } from './support/platform';
import { bearer } from './support/mcp';

const textOf = (r: CallToolResult) =>
  (r.content as { type: string; text: string }[])[0]?.text ?? '';

const nest = (levels: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { v };
  return v;
};

/**
 * The caps on a tools/call's arguments at their defaults (MAX_ARGUMENT_ELEMENTS 10,000,
 * MAX_ARGUMENT_DEPTH 32), as a real MCP client sees them: tool errors it can read and correct.
 */
describe('tool argument limits', () => {
  const p = usePlatform();
  let c: Client;
  const call = async (name: string, args: Record<string, unknown>) =>
    (await c.callTool({ name, arguments: args })) as CallToolResult;

  beforeAll(async () => {
    const t = await p.admin.tenantWithKey(['math:use', 'notes:read', 'notes:write']);
    c = await p.connect(t.slug, bearer(t.key));
  });

  it('refuses more than 10,000 elements as a tool error, and takes exactly 10,000', async () => {
    // text (1) + extra (1) + its items: the arguments object's members count too.
    const over = await call('echo', { text: 'hi', extra: new Array<number>(9_999).fill(0) });
    expect(over.isError).toBe(true);
    expect(textOf(over)).toBe(
      "invalid arguments for echo: arguments have more than 10000 elements (limit for this tool; set by MAX_ARGUMENT_ELEMENTS or the tool's limits)",
    );
    const at = await call('echo', { text: 'hi', extra: new Array<number>(9_998).fill(0) });
    expect(at.isError).toBeFalsy();
    expect(textOf(at)).toBe('hi');
  });

  it('refuses nesting deeper than 32 levels as a tool error, and takes exactly 32', async () => {
    // The arguments object is level 1.
    const over = await call('add', { a: 1, b: 2, extra: nest(32) });
    expect(over.isError).toBe(true);
    expect(textOf(over)).toBe(
      "invalid arguments for add: arguments nest deeper than 32 levels (limit for this tool; set by MAX_ARGUMENT_DEPTH or the tool's limits)",
    );
    const at = await call('add', { a: 1, b: 2, extra: nest(31) });
    expect(at.isError).toBeFalsy();
    expect(at.structuredContent).toEqual({ result: 3 });
  });

  it('checks the caps before the text: an over-deep NUL gets the depth message', async () => {
    let v: unknown = 'nul\u0000';
    for (let i = 0; i < 40; i++) v = [v];
    const res = await call('echo', { text: 'x', extra: v });
    expect(res.isError).toBe(true);
    expect(textOf(res)).toMatch(/arguments nest deeper than 32 levels/);
  });

  it('still answers ordinary calls, and the session goes on after a refusal', async () => {
    expect((await call('add', { a: 2, b: 3 })).structuredContent).toEqual({ result: 5 });
    expect(textOf(await call('echo', { text: 'hello' }))).toBe('hello');
    const bad = await call('add', { a: 'x', b: 3 });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/^invalid arguments for add: a: /);
  });

  it('takes the longest note body its schema allows (notes_create has its own maxBytes)', async () => {
    // 100,000 CJK characters: about 300 KB of UTF-8, over the 256 KiB default message size.
    const body = '漢'.repeat(100_000);
    const res = await call('notes_create', { title: 'long', body });
    expect(res.isError).toBeFalsy();
    expect((res.structuredContent as { body: string }).body).toBe(body);
  });
});
