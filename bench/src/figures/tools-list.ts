import { Agent } from 'node:http';
import type { BenchContext } from '../context';
import { createKey, createTenant, openSession, parseMessages, timedPost } from '../mcp-client';
import { startPlatform } from '../processes';
import { log, mean, percentile } from '../util';

export interface ToolsListResult {
  tools: number;
  bytes: number;
  requests: number;
  p50: number;
  p99: number;
  mean: number;
  stateful: boolean;
  /** Set by the stateful figure: the idle sessions open while it ran. */
  idleSessionsOpen?: number;
}

/**
 * p50 (and p99) of `tools/list`, sequential requests on one keep-alive connection, as one
 * principal sees it: from sending the request to the last byte of the response (see timedPost);
 * every response is then checked outside the timing. `stateful: true` opens a session first (the
 * server must be stateful).
 */
export async function measureToolsList(
  url: string,
  key: string,
  {
    stateful = false,
    requests,
    warmup = 20,
  }: { stateful?: boolean; requests: number; warmup?: number },
): Promise<ToolsListResult> {
  let headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (stateful) headers = await openSession(url, headers, 'mcp-bench-tools-list');
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  let tools = 0;
  let bytes = 0;
  try {
    for (let i = 0; i < warmup + requests; i++) {
      const message = { jsonrpc: '2.0', id: i + 1, method: 'tools/list', params: {} };
      const r = await timedPost(agent, url, Buffer.from(JSON.stringify(message)), headers);
      const raw = Buffer.concat(r.chunks);
      const text = raw.toString('utf8');
      const result = parseMessages(r.type, text).find((m) => m.id === i + 1)?.result;
      if (r.status !== 200 || !Array.isArray(result?.tools)) {
        throw new Error(`tools/list at ${url}: ${r.status} ${text.slice(0, 300)}`);
      }
      tools = result.tools.length;
      bytes = raw.length;
      if (i >= warmup) times.push(r.ms);
    }
  } finally {
    agent.destroy();
  }
  times.sort((a, b) => a - b);
  return {
    tools,
    bytes,
    requests,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    mean: mean(times),
    stateful,
  };
}

export interface ToolPackResult {
  available: true;
  points: (ToolsListResult & { pack: number })[];
  p50Ratio: number;
}

/**
 * tools/list with a small and a large catalog: two stateless bench platforms with the benchmark-
 * only tool pack (BENCH_TOOL_PACK=5 and =200 synthetic tools), a key without scopes that sees the
 * pack plus the two scope-free built-ins.
 */
export async function measureToolPack(ctx: BenchContext): Promise<ToolPackResult> {
  const points: ToolPackResult['points'] = [];
  for (const n of [5, 200]) {
    const platform = await startPlatform(ctx, `pack-${n}`, {
      stateless: true,
      env: { BENCH_TOOL_PACK: String(n) },
    });
    try {
      const slug = `b${ctx.runId}-pack-${n}`;
      await createTenant(platform, slug);
      const key = await createKey(platform, slug, []);
      const r = await measureToolsList(`${platform.url}/t/${slug}/mcp`, key, {
        requests: ctx.config.toolsListRequests,
      });
      log(`tools/list with a ${n}-tool pack: p50 ${r.p50.toFixed(2)} ms, ${r.tools} tools listed`);
      points.push({ pack: n, ...r });
    } finally {
      await platform.stop();
    }
  }
  return { available: true, points, p50Ratio: points[1].p50 / points[0].p50 };
}
