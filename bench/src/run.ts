/**
 * `npm run bench`: the entry. Options (options.ts), then the build (build.ts), then the figures
 * (figures/*), then the table and the JSON (output.ts). `npm run bench -- --help` says more.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, platform as osPlatform, release, totalmem } from 'node:os';
import { relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureBuilt, snapshotBuild } from './build';
import type { BenchContext } from './context';
import { loadComparison, type LoadComparison } from './figures/load-comparison';
import { noisyNeighbour, type NoisyNeighbour } from './figures/noisy-neighbour';
import { scaleFigures, type ScaleFigures } from './figures/scale';
import { lifecycle } from './lifecycle';
import { HELP, parseOptions, UsageError, type BenchConfig, type BenchOptions } from './options';
import { printLoad, printNoisy, printScale, writeResults } from './output';
import { gitInfo, ROOT, round } from './util';

interface Results {
  startedAt: string;
  config: BenchConfig;
  machine: {
    cpus: number;
    cpuModel: string | undefined;
    memoryGiB: number | null;
    node: string;
    loadAverageAtStart: (number | null)[];
    platform: string;
    loadAverageAtEnd?: (number | null)[];
  };
  git: ReturnType<typeof gitInfo>;
  load?: LoadComparison;
  noisy?: NoisyNeighbour;
  scale?: ScaleFigures;
  finishedAt?: string;
  totalSeconds?: number | null;
  failures?: string[];
}

/** Every `error` of a scale figure, with where it is: `scale.auth.creation: …`. */
function collectFailures(node: unknown, at: string, into: string[]): string[] {
  if (!node || typeof node !== 'object') return into;
  const { error } = node as { error?: unknown };
  if (typeof error === 'string') into.push(`${at}: ${error.split('\n')[0]}`);
  for (const [k, v] of Object.entries(node)) collectFailures(v, at ? `${at}.${k}` : k, into);
  return into;
}

async function run(options: BenchOptions): Promise<number> {
  const { config } = options;
  const started = new Date();
  const t0 = performance.now();
  ensureBuilt(options.noBuild);
  const ctx: BenchContext = {
    options,
    config,
    runId: randomBytes(3).toString('hex'),
    adminToken: `bench-admin-${randomBytes(24).toString('hex')}`,
    app: snapshotBuild(),
  };
  const results: Results = {
    startedAt: started.toISOString(),
    config,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      loadAverageAtStart: loadavg().map((n) => round(n)),
      platform: `${osPlatform()} ${release()}`,
    },
    git: gitInfo(),
  };
  if (options.runLoad) results.load = await loadComparison(ctx);
  if (options.runNoisy) results.noisy = await noisyNeighbour(ctx);
  if (options.runScale) results.scale = await scaleFigures(ctx);
  await lifecycle.cleanup();
  results.finishedAt = new Date().toISOString();
  const loadAverageAtEnd = loadavg().map((n) => round(n));
  results.machine.loadAverageAtEnd = loadAverageAtEnd;
  results.totalSeconds = round((performance.now() - t0) / 1000, 1);
  if (results.load) printLoad(config, results.load);
  if (results.noisy) printNoisy(results.noisy);
  if (results.scale) printScale(config, results.scale);
  const failures = collectFailures(results.scale, 'scale', []);
  if (failures.length) results.failures = failures;
  const file = writeResults(results);
  const { machine } = results;
  process.stdout.write(
    `\nload average (1/5/15 min) at start ${machine.loadAverageAtStart.join(' ')}, at end ` +
      `${loadAverageAtEnd.join(' ')} on ${machine.cpus} CPUs: other work on this machine ` +
      'skews the numbers\n',
  );
  process.stdout.write(
    `\ntotal ${results.totalSeconds} s; results in ${relative(ROOT, file)} and bench/results/latest.json\n`,
  );
  if (failures.length) {
    process.stdout.write(
      `\n${failures.length} figure(s) failed:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`,
    );
    return 1;
  }
  return 0;
}

function main(): void {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(HELP);
    process.exit(0);
  }
  lifecycle.install();
  run(options).then(
    (code) => process.exit(code),
    async (err: unknown) => {
      if (lifecycle.interrupted) return; // the signal handler cleans up and exits
      process.stderr.write(`\nbench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      await lifecycle.cleanup();
      process.exit(1);
    },
  );
}

main();
