import type { BenchContext } from '../context';
import { ADD_BODY, firstError, isAdd42, load, type LoadResult } from '../load';
import {
  createKey,
  createTenant,
  openSession,
  verifyAdd,
  type Headers,
  type Verified,
} from '../mcp-client';
import { startPlatform, startReference } from '../processes';
import { log, mean } from '../util';

const MODES = ['stateful', 'stateless'] as const;
type Mode = (typeof MODES)[number];
type Server = 'reference' | 'platform';

export interface LoadRun extends LoadResult {
  mode: Mode;
  server: Server;
  round: number;
}

export interface LoadSummaryRow {
  mode: Mode;
  server: Server;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  runs: number;
  rpsRatio?: number;
  p99Ratio?: number;
}

export interface LoadComparison {
  runs: LoadRun[];
  summary: LoadSummaryRow[];
  verified: Record<string, Verified>;
}

/**
 * `tools/call add` under load, platform against the reference, stateful and stateless, in
 * measured runs that alternate the two servers (ABBA…) after a warm-up of each.
 */
export async function loadComparison(ctx: BenchContext): Promise<LoadComparison> {
  const { config } = ctx;
  const runs: LoadRun[] = [];
  const verified: Record<string, Verified> = {};
  for (const mode of MODES) {
    log(`\n== ${mode} ==`);
    const platform = await startPlatform(ctx, `load-${mode}`, { stateless: mode === 'stateless' });
    const reference = await startReference(mode);
    const slug = `b${ctx.runId}-${mode}`;
    await createTenant(platform, slug);
    const key = await createKey(platform, slug, ['math:use']);
    const targets: Record<Server, { url: string; headers: Headers }> = {
      reference: { url: `${reference.url}/mcp`, headers: {} },
      platform: {
        url: `${platform.url}/t/${slug}/mcp`,
        headers: { authorization: `Bearer ${key}` },
      },
    };
    if (mode === 'stateful') {
      // One session per server, opened by hand, shared by every connection of the load.
      for (const t of Object.values(targets)) t.headers = await openSession(t.url, t.headers);
    }
    for (const [server, t] of Object.entries(targets)) {
      verified[`${mode}/${server}`] = await verifyAdd(`${mode} ${server}`, t.url, t.headers);
    }
    const drive = (server: Server, seconds: number) =>
      load({
        ...targets[server],
        body: ADD_BODY,
        duration: seconds,
        check: isAdd42,
        connections: config.connections,
      });
    if (config.warmup > 0) {
      for (const server of ['reference', 'platform'] as const) {
        log(`warm-up ${mode} ${server} (${config.warmup} s)`);
        const w = await drive(server, config.warmup);
        if (w.errors) {
          log(`  warm-up had ${w.errors} errors ${w.non2xxSample || w.wrongBodySample || ''}`);
        }
      }
    }
    for (let round = 1; round <= config.rounds; round++) {
      const order: Server[] =
        round % 2 === 1 ? ['reference', 'platform'] : ['platform', 'reference'];
      for (const server of order) {
        const r = await drive(server, config.duration);
        log(
          `round ${round} ${mode} ${server}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, ` +
            `p99 ${r.p99} ms, errors ${r.errors}`,
        );
        if (r.errors) log(`  first error: ${firstError(r)}`);
        runs.push({ mode, server, round, ...r });
      }
    }
    // Still right after the load (a session that broke under load shows up here).
    await verifyAdd(
      `${mode} platform (after load)`,
      targets.platform.url,
      targets.platform.headers,
    );
    await reference.stop();
    await platform.stop();
  }
  const summary: LoadSummaryRow[] = [];
  for (const mode of MODES) {
    const row = (server: Server): LoadSummaryRow => {
      const rs = runs.filter((r) => r.mode === mode && r.server === server);
      return {
        mode,
        server,
        rps: mean(rs.map((r) => r.rps)),
        p50: mean(rs.map((r) => r.p50)),
        p99: mean(rs.map((r) => r.p99)),
        errors: rs.reduce((a, r) => a + r.errors, 0),
        runs: rs.length,
      };
    };
    const ref = row('reference');
    const plat = row('platform');
    plat.rpsRatio = plat.rps / ref.rps;
    plat.p99Ratio = plat.p99 / ref.p99;
    summary.push(ref, plat);
  }
  return { runs, summary, verified };
}
