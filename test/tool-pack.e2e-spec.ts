import request from 'supertest';
import { loadConfig } from '@app/config';
import { createPlatformApp } from '../apps/platform/src/bootstrap';
import { BenchPlatformModule } from '../bench/platform/bench-platform.module';
import { benchToolPackSize } from '../bench/platform/bench-tool-pack';
import { ADMIN_TOKEN, startPlatform, TestPlatform } from './support/platform';
import { bearer, connect, tenantWithKey, toolNames } from './support/mcp';
import { freePort } from './support/http';

/** The bench platform (bench/platform) in this process, as startPlatform starts the product. */
async function startBenchPlatform(env: Record<string, string>): Promise<TestPlatform> {
  const port = await freePort();
  const config = loadConfig({
    ADMIN_TOKEN,
    DATA_DIR: 'memory://',
    LOG_LEVEL: 'silent',
    PORT: String(port),
    RATE_LIMIT_KEY_PER_MINUTE: '0',
    RATE_LIMIT_TENANT_PER_MINUTE: '0',
  });
  const app = await createPlatformApp(config, {
    forceCloseConnections: true,
    module: BenchPlatformModule.forRoot(config, benchToolPackSize(env)),
  });
  await app.listen(config.port, config.host);
  const url = `http://127.0.0.1:${port}`;
  return { app, config, url, http: () => request(url), close: () => app.close() };
}

describe('benchmark tool pack', () => {
  let product: TestPlatform;
  let bench: TestPlatform;
  beforeAll(async () => {
    // Started first: it prepares the in-memory database template the bench platform uses too.
    product = await startPlatform({ BENCH_TOOL_PACK: '200' });
    bench = await startBenchPlatform({ BENCH_TOOL_PACK: '200' });
  });
  afterAll(async () => {
    await product?.close();
    await bench?.close();
  });

  it('is not part of the product, even with BENCH_TOOL_PACK set', async () => {
    const t = await tenantWithKey(product, []);
    const c = await connect(product, t.slug, bearer(t.key));
    const names = await toolNames(c);
    expect(names).toContain('whoami');
    expect(names.some((n) => n.startsWith('bench_'))).toBe(false);
    await c.close();
  });

  it('registers that many callable synthetic tools in the bench platform', async () => {
    const t = await tenantWithKey(bench, []);
    const c = await connect(bench, t.slug, bearer(t.key));
    const names = await toolNames(c);
    expect(names.filter((n) => n.startsWith('bench_tool_'))).toHaveLength(200);
    expect(names).toContain('whoami');
    const res = await c.callTool({ name: 'bench_tool_200', arguments: { x: 7 } });
    expect(res.structuredContent).toEqual({ x: 7 });
    await c.close();
  });

  it('reads BENCH_TOOL_PACK as 0 to 1000 tools, none when unset', () => {
    expect(benchToolPackSize({})).toBe(0);
    expect(benchToolPackSize({ BENCH_TOOL_PACK: '1000' })).toBe(1000);
    expect(() => benchToolPackSize({ BENCH_TOOL_PACK: '1001' })).toThrow(
      'BENCH_TOOL_PACK: expected an integer from 0 to 1000, not "1001"',
    );
  });
});
