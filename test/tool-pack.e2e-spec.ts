import { startPlatform, TestPlatform } from './support/platform';
import { bearer, connect, tenantWithKey, toolNames } from './support/mcp';

describe('benchmark tool pack', () => {
  let plain: TestPlatform;
  let packed: TestPlatform;
  beforeAll(async () => {
    plain = await startPlatform();
    packed = await startPlatform({ BENCH_TOOL_PACK: '200' });
  });
  afterAll(async () => {
    await plain.close();
    await packed.close();
  });

  it('is not part of the product catalog unless BENCH_TOOL_PACK is set', async () => {
    const t = await tenantWithKey(plain, []);
    const c = await connect(plain, t.slug, bearer(t.key));
    expect((await toolNames(c)).some((n) => n.startsWith('bench_'))).toBe(false);
    await c.close();
  });

  it('registers that many callable synthetic tools', async () => {
    const t = await tenantWithKey(packed, []);
    const c = await connect(packed, t.slug, bearer(t.key));
    const names = await toolNames(c);
    expect(names.filter((n) => n.startsWith('bench_tool_'))).toHaveLength(200);
    const res = await c.callTool({ name: 'bench_tool_200', arguments: { x: 7 } });
    expect(res.structuredContent).toEqual({ x: 7 });
    await c.close();
  });
});
