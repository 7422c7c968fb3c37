import type { BenchContext } from '../context';
import {
  ADD_BODY,
  firstError,
  isAdd42,
  isModernAdd42,
  load,
  MODERN_ADD_BODY,
  type LoadResult,
} from '../load';
import {
  createKey,
  createTenant,
  MODERN_PROTOCOL_VERSION,
  modernHeaders,
  openSession,
  verifyAdd,
  verifyModernAdd,
  type Headers,
  type Verified,
} from '../mcp-client';
import { startPlatform, startReference } from '../processes';
import { log, mean } from '../util';

const MODES = ['stateful', 'stateless', 'modern'] as const;
type Mode = (typeof MODES)[number];
type Server = 'reference' | 'platform';

/** How each mode is served, sent and checked. */
interface ModeSpec {
  /** The row's label in the table (and the JSON). */
  label: string;
  /** MCP_STATELESS of the platform process. */
  platformStateless: boolean;
  /** One session per server, opened by hand and shared by every connection (2025 stateful). */
  session: boolean;
  /** Headers of every request of the mode, on both servers. */
  headers: Headers;
  body: string;
  check: (body: string) => boolean;
  verify: (label: string, url: string, headers: Headers) => Promise<Verified>;
}

const SPECS: Record<Mode, ModeSpec> = {
  stateful: {
    label: 'stateful',
    platformStateless: false,
    session: true,
    headers: {},
    body: ADD_BODY,
    check: isAdd42,
    verify: verifyAdd,
  },
  stateless: {
    label: 'stateless',
    platformStateless: true,
    session: false,
    headers: {},
    body: ADD_BODY,
    check: isAdd42,
    verify: verifyAdd,
  },
  // 2026-07-28: no initialize, no session; the `_meta` envelope routes the platform's request to
  // its modern arm on the same endpoint. The platform runs as the product ships (MCP_STATELESS
  // unset, i.e. false): the modern arm does not depend on it.
  modern: {
    label: `modern (${MODERN_PROTOCOL_VERSION})`,
    platformStateless: false,
    session: false,
    headers: modernHeaders('tools/call', 'add'),
    body: MODERN_ADD_BODY,
    check: isModernAdd42,
    verify: verifyModernAdd,
  },
};

export interface LoadRun extends LoadResult {
  mode: Mode;
  server: Server;
  round: number;
}

export interface LoadSummaryRow {
  mode: Mode;
  label: string;
  server: Server;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  runs: number;
  rpsRatio?: number;
  p99Ratio?: number;
}

/**
 * The targets for the modern row, printed, never asserted: platform ≥ 2× the reference's
 * req/s with p99 ≤ ½ of the reference's, and no slower than the platform's own 2025 stateless row.
 */
export interface ModernTargets {
  /** Modern platform req/s ÷ modern reference req/s (target ≥ 2). */
  rpsRatio: number;
  /** Modern platform p99 ÷ modern reference p99 (target ≤ 0.5). */
  p99Ratio: number;
  /** Modern platform req/s ÷ the platform's 2025 stateless req/s (target ≥ 1). */
  rpsVsStateless: number;
  /** Modern platform p99 ÷ the platform's 2025 stateless p99 (for the record). */
  p99VsStateless: number;
}

export interface LoadComparison {
  runs: LoadRun[];
  summary: LoadSummaryRow[];
  verified: Record<string, Verified>;
  modernTargets?: ModernTargets;
}

/**
 * `tools/call add` under load, platform against the reference, 2025 stateful and stateless and
 * 2026-07-28 (modern), in measured runs that alternate the two servers (ABBA…) after a warm-up of
 * each.
 */
export async function loadComparison(ctx: BenchContext): Promise<LoadComparison> {
  const { config } = ctx;
  const runs: LoadRun[] = [];
  const verified: Record<string, Verified> = {};
  for (const mode of MODES) {
    const spec = SPECS[mode];
    log(`\n== ${spec.label} ==`);
    const platform = await startPlatform(ctx, `load-${mode}`, {
      stateless: spec.platformStateless,
    });
    const reference = await startReference(mode);
    const slug = `b${ctx.runId}-${mode}`;
    await createTenant(platform, slug);
    const key = await createKey(platform, slug, ['math:use']);
    const targets: Record<Server, { url: string; headers: Headers }> = {
      reference: { url: `${reference.url}/mcp`, headers: { ...spec.headers } },
      platform: {
        url: `${platform.url}/t/${slug}/mcp`,
        headers: { ...spec.headers, authorization: `Bearer ${key}` },
      },
    };
    if (spec.session) {
      // One session per server, opened by hand, shared by every connection of the load.
      for (const t of Object.values(targets)) t.headers = await openSession(t.url, t.headers);
    }
    for (const [server, t] of Object.entries(targets)) {
      verified[`${mode}/${server}`] = await spec.verify(`${mode} ${server}`, t.url, t.headers);
    }
    const drive = (server: Server, seconds: number) =>
      load({
        ...targets[server],
        body: spec.body,
        duration: seconds,
        check: spec.check,
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
    await spec.verify(
      `${mode} platform (after load)`,
      targets.platform.url,
      targets.platform.headers,
    );
    await reference.stop();
    await platform.stop();
  }
  const summary: LoadSummaryRow[] = [];
  const platformRows: Partial<Record<Mode, LoadSummaryRow>> = {};
  for (const mode of MODES) {
    const row = (server: Server): LoadSummaryRow => {
      const rs = runs.filter((r) => r.mode === mode && r.server === server);
      return {
        mode,
        label: SPECS[mode].label,
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
    platformRows[mode] = plat;
    summary.push(ref, plat);
  }
  const { modern, stateless } = platformRows;
  const modernTargets: ModernTargets | undefined =
    modern && stateless
      ? {
          rpsRatio: modern.rpsRatio ?? NaN,
          p99Ratio: modern.p99Ratio ?? NaN,
          rpsVsStateless: modern.rps / stateless.rps,
          p99VsStateless: modern.p99 / stateless.p99,
        }
      : undefined;
  return { runs, summary, verified, ...(modernTargets ? { modernTargets } : {}) };
}
