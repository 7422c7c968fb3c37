/** The command line and BENCH_* variables of `npm run bench`, validated once at start. */

export const HELP = `\`npm run bench\` — the platform against bare SDK reference servers (SDK v1 + Express
for the 2025 era, SDK v2 alone for 2026-07-28).

  npm run bench                   load comparison: tools/call \`add\`, 2025 stateful and
                                  stateless, and modern (2026-07-28)
  npm run bench -- --quick        the same as a ~1 min smoke run
  npm run bench -- --scale        scale figures only (RSS with idle sessions, tools/list
                                  latency, API-key verification with 1 vs many tenants)
  npm run bench -- --all          both
  npm run bench -- --noisy        the noisy-neighbour figure only (also part of the default run):
                                  tenant B's \`add\` latency alone and while tenant A sends 1 MiB
                                  arguments as fast as it can

Environment: BENCH_DURATION (s per measured run), BENCH_WARMUP (s), BENCH_ROUNDS,
BENCH_CONNECTIONS, BENCH_TENANTS (extra tenants for the auth figure, created by the bench
platform's seeder through the platform's own services; default 10,000, 200 with --quick),
BENCH_SESSIONS (e.g. "1000,5000"), BENCH_RATE_LIMIT_PER_MINUTE (the platform's per-key and
per-tenant limits, default 1,000,000: on, but never reached), BENCH_NO_BUILD=1 (run the existing
dist/bench-platform as is), BENCH_LOG_LEVEL (the platform's LOG_LEVEL, default warn),
BENCH_CPU_PROF=<dir> (a V8 CPU profile of every platform process), DATABASE_URL (a Postgres
server: every platform process gets a scratch database on it, dropped at the end).

The servers measured run the bench platform (bench/platform: the product's AppModule plus the
benchmark-only tool pack), built first when dist/bench-platform is missing or older than the
sources (as \`npm start\` does), each process from a private copy of that build. Every server runs
in its own process on 127.0.0.1; the load generator (autocannon) runs in this one. The numbers go
to bench/results/<timestamp>.json and bench/results/latest.json. See bench/README.md.
`;

const FLAGS = ['--quick', '--scale', '--all', '--noisy'] as const;

export interface BenchConfig {
  quick: boolean;
  connections: number;
  duration: number;
  warmup: number;
  rounds: number;
  tenants: number;
  sessions: number[];
  toolsListRequests: number;
  /** How long an RSS reading may wait for V8 to give memory back (see settledRssKiB). */
  settleSeconds: number;
  database: string;
  logLevel: string;
  rateLimitPerMinute: string;
}

export interface BenchOptions {
  runLoad: boolean;
  runNoisy: boolean;
  runScale: boolean;
  noBuild: boolean;
  databaseUrl: string | undefined;
  cpuProfileDir: string | undefined;
  /** Recorded in the results as it is. */
  config: BenchConfig;
}

export class UsageError extends Error {}

function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min)
    throw new UsageError(`${name}=${raw}: expected a number ≥ ${min}`);
  return n;
}

/** 'help' for --help/-h; throws UsageError (exit code 2) on anything it does not know. */
export function parseOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): BenchOptions | 'help' {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  for (const a of argv) {
    if (!(FLAGS as readonly string[]).includes(a)) {
      throw new UsageError(`unknown argument ${a} (expected ${FLAGS.join(', ')})`);
    }
  }
  const has = (flag: (typeof FLAGS)[number]) => argv.includes(flag);
  const quick = has('--quick');
  const runLoad = has('--all') || (!has('--scale') && !has('--noisy'));
  const databaseUrl = env.DATABASE_URL || undefined;
  return {
    runLoad,
    runScale: has('--all') || has('--scale'),
    runNoisy: runLoad || has('--noisy'),
    noBuild: env.BENCH_NO_BUILD === '1',
    databaseUrl,
    cpuProfileDir: env.BENCH_CPU_PROF || undefined,
    config: {
      quick,
      connections: envNumber(env, 'BENCH_CONNECTIONS', 32, 1),
      duration: envNumber(env, 'BENCH_DURATION', quick ? 3 : 10, 1),
      warmup: envNumber(env, 'BENCH_WARMUP', quick ? 1 : 5),
      rounds: envNumber(env, 'BENCH_ROUNDS', quick ? 1 : 2, 1),
      tenants: envNumber(env, 'BENCH_TENANTS', quick ? 200 : 10_000),
      sessions: (env.BENCH_SESSIONS || '1000,5000')
        .split(',')
        .map(Number)
        .filter((n) => Number.isInteger(n) && n > 0)
        .sort((a, b) => a - b),
      toolsListRequests: quick ? 50 : 200,
      settleSeconds: quick ? 40 : 60,
      database: databaseUrl ? 'postgres (DATABASE_URL)' : 'embedded (PGlite)',
      logLevel: env.BENCH_LOG_LEVEL || 'warn',
      rateLimitPerMinute: String(envNumber(env, 'BENCH_RATE_LIMIT_PER_MINUTE', 1_000_000)),
    },
  };
}
