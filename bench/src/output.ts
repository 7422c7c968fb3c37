import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadComparison } from './figures/load-comparison';
import type { NoisyNeighbour } from './figures/noisy-neighbour';
import type { FailedFigure, ScaleFigures } from './figures/scale';
import type { LoadResult } from './load';
import type { BenchConfig } from './options';
import { ROOT } from './util';

export const RESULTS_DIR = join(ROOT, 'bench/results');

type Align = 'l' | 'r';

function table(headers: string[], rows: (string | number)[][], align: Align[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: (string | number)[]) =>
    cells
      .map((c, i) =>
        align[i] === 'r' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]),
      )
      .join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const fmt = (n: number | null | undefined, d = 1) =>
  typeof n === 'number' && Number.isFinite(n) ? n.toFixed(d) : '–';
const isFailed = (f: object | undefined): f is FailedFigure => !!f && 'error' in f;
const out = (text: string) => void process.stdout.write(text);

export function printLoad(config: BenchConfig, load: LoadComparison): void {
  const rows = load.summary.map((r) => [
    r.label,
    r.server,
    fmt(r.rps, 0),
    fmt(r.p50, 1),
    fmt(r.p99, 1),
    r.errors,
    r.server === 'platform' ? fmt(r.rpsRatio, 2) : '',
    r.server === 'platform' ? fmt(r.p99Ratio, 2) : '',
  ]);
  out(
    `\ntools/call add — ${config.connections} connections, ${config.duration} s × ${config.rounds} ` +
      `round(s) per server, ${config.warmup} s warm-up; latencies in ms; ${config.database}\n\n` +
      table(['mode', 'server', 'req/s', 'p50', 'p99', 'errors', 'req/s ÷ ref', 'p99 ÷ ref'], rows, [
        'l',
        'l',
        'r',
        'r',
        'r',
        'r',
        'r',
        'r',
      ]) +
      '\n',
  );
  const t = load.modernTargets;
  if (t) {
    const mark = (ok: boolean) => (ok ? 'met' : 'not met');
    out(
      `\nmodern targets (printed, not asserted): req/s ÷ ref ${fmt(t.rpsRatio, 2)} (≥ 2: ` +
        `${mark(t.rpsRatio >= 2)}), p99 ÷ ref ${fmt(t.p99Ratio, 2)} (≤ 0.5: ` +
        `${mark(t.p99Ratio <= 0.5)}), req/s ÷ platform stateless ${fmt(t.rpsVsStateless, 2)} ` +
        `(≥ 1: ${mark(t.rpsVsStateless >= 1)}; p99 ÷ platform stateless ` +
        `${fmt(t.p99VsStateless, 2)})\n`,
    );
  }
}

export function printNoisy(n: NoisyNeighbour): void {
  const { alone, attacked } = n;
  const rows = [
    ['B alone', fmt(alone.p50, 1), fmt(alone.p99, 1), fmt(alone.rps, 0), alone.errors, ''],
    [
      'B while A attacks',
      fmt(attacked.p50, 1),
      fmt(attacked.p99, 1),
      fmt(attacked.rps, 0),
      attacked.errors,
      fmt(n.p99Ratio, 2),
    ],
  ];
  const statuses = Object.entries(n.attacker.statuses)
    .map(([k, v]) => `${v} × ${k}`)
    .join(', ');
  const bodyKiB = n.attacker.bodyBytes === undefined ? NaN : n.attacker.bodyBytes / 1024;
  out(
    `\nnoisy neighbour — tenant B: tools/call add at ${n.config.victimRate} req/s over ` +
      `${n.config.victimConnections} connections; tenant A: ${fmt(bodyKiB, 0)} KiB tools/call ` +
      `bodies, ${n.config.attackerConnections} connections, as fast as it can ` +
      `(${fmt(n.attacker.rps, 0)} req/s: ${statuses}); latencies in ms; ` +
      'target B p99 attacked ÷ alone ≤ 2\n\n' +
      table(['tenant B', 'p50', 'p99', 'req/s', 'errors', 'p99 ÷ alone'], rows, [
        'l',
        'r',
        'r',
        'r',
        'r',
        'r',
      ]) +
      '\n',
  );
}

export function printScale(config: BenchConfig, s: ScaleFigures): void {
  const rows: string[][] = [];
  const failed = (label: string, f: FailedFigure) =>
    rows.push([label, 'failed', String(f.error).split('\n')[0].slice(0, 160)]);
  const sessions = s.sessions;
  if (isFailed(sessions)) failed('RSS with idle sessions', sessions);
  else if (sessions) {
    rows.push([
      'RSS, platform idle (stateful)',
      `${fmt(sessions.baselineMiB)} MiB`,
      `settled (lowest over ${sessions.baselineSettleSeconds} s); 2 s after the first call ` +
        `${fmt(sessions.baselineFirstMiB)} MiB`,
    ]);
    for (const p of sessions.points) {
      rows.push([
        `RSS with ${p.sessions.toLocaleString('en')} idle sessions`,
        `${fmt(p.rssMiB)} MiB`,
        `settled after ${p.settleSeconds} s${p.settled ? '' : ' (did not fall 20%)'}; just opened ` +
          `${fmt(p.justOpenedMiB)} MiB; ${fmt(p.perSessionKiB)} KiB/session above idle; ` +
          `opened at ${p.openedPerSecond}/s`,
      ]);
    }
    if (sessions.oldestSessionAlive === false) {
      rows.push(['oldest idle session', 'gone', 'evicted or expired during the test']);
    }
  }
  for (const [t, label] of [
    [s.toolsListStateful, 'stateful'],
    [s.toolsListStateless, 'stateless'],
  ] as const) {
    if (!t) continue;
    if (isFailed(t)) failed(`tools/list p50, ${label}`, t);
    else {
      rows.push([
        `tools/list p50, ${label} (${t.tools} built-in tools)`,
        `${fmt(t.p50, 2)} ms`,
        `p99 ${fmt(t.p99, 2)} ms; ${t.requests} sequential requests; ${fmt(t.bytes / 1000)} KB per ` +
          'response' +
          (t.idleSessionsOpen
            ? `; ${t.idleSessionsOpen.toLocaleString('en')} idle sessions open`
            : ''),
      ]);
    }
  }
  const pack = s.toolPack;
  if (isFailed(pack)) failed('tools/list, tool pack', pack);
  else if (pack?.available) {
    for (const pt of pack.points) {
      rows.push([
        `tools/list p50, ${pt.pack}-tool pack (${pt.tools} listed)`,
        `${fmt(pt.p50, 2)} ms`,
        `p99 ${fmt(pt.p99, 2)} ms; stateless; ${fmt(pt.bytes / 1000)} KB per response` +
          (pt.pack === 200 ? `; p50 ÷ 5-tool pack ${fmt(pack.p50Ratio, 2)}` : ''),
      ]);
    }
  }
  const a = s.auth;
  if (isFailed(a)) failed('auth', a);
  else if (a) {
    const authRow = (label: string, r: LoadResult | FailedFigure | undefined, note?: string) => {
      if (isFailed(r)) failed(label, r);
      else if (r) {
        rows.push([
          label,
          `p99 ${fmt(r.p99, 1)} ms`,
          `p50 ${fmt(r.p50, 1)} ms, ${fmt(r.rps, 0)} req/s, errors ${r.errors}${note ? `; ${note}` : ''}`,
        ]);
      }
    };
    authRow(`auth: 1 tenant × ${a.keysPerTenant} keys`, a.oneTenant);
    if (isFailed(a.creation)) failed('creating tenants', a.creation);
    else if (a.creation) {
      const c = a.creation;
      rows.push([
        `created ${a.tenantsAdded.toLocaleString('en')} tenants × ${a.keysPerTenant} keys`,
        `${fmt(c.seconds)} s`,
        `via ${c.via}; ${c.tenantsPerSecond} tenants/s` +
          (c.restartSeconds !== undefined
            ? `; stop, open and restart ${fmt(c.restartSeconds)} s`
            : ''),
      ]);
    }
    authRow(
      `auth: ${(a.tenantsAdded + 1).toLocaleString('en')} tenants, same ${a.keysPerTenant} keys`,
      a.manyTenantsSameKeys,
      `p99 ÷ 1 tenant ${fmt(a.p99Ratio, 2)}`,
    );
    authRow(
      `auth: random key of ${a.tenantsAdded.toLocaleString('en')} tenants`,
      a.manyTenantsRandomKeys,
      `p99 ÷ 1 tenant ${fmt(a.p99RatioRandom, 2)}`,
    );
  }
  out(
    `\nscale — ${config.database}; tools/list rows: request sent to last byte received; ` +
      'auth rows: tools/list (stateless), keys cycled per request, ' +
      `${config.connections} connections, ${config.duration} s\n\n` +
      table(['figure', 'value', 'notes'], rows, ['l', 'r', 'l']) +
      '\n',
  );
}

/** Writes bench/results/<startedAt>.json and latest.json; resolves to the first one's path. */
export function writeResults(results: { startedAt: string }): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${results.startedAt.replace(/[:.]/g, '-')}.json`);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(file, json);
  writeFileSync(join(RESULTS_DIR, 'latest.json'), json);
  return file;
}
