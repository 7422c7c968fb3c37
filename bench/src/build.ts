import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { lifecycle } from './lifecycle';
import { isStale } from '../../scripts/build-freshness';
import { log, ROOT } from './util';

/** The bench platform (bench/platform, nest project "bench-platform") as `nest build` emits it. */
const DIST = join(ROOT, 'dist/bench-platform');
const MAIN_REL = 'bench/platform/main.js';
const SEED_REL = 'bench/platform/seed.js';
/** What the bench platform is compiled from: the product and the bench app around it. */
const SOURCES = ['apps', 'libs', 'bench/platform'];

/** The compiled entries this run starts. */
export interface BuiltApp {
  /** The bench platform's main.js: the product's bootstrap with the bench tool pack. */
  main: string;
  /** The seeding entry (bench/platform/seed.ts). */
  seed: string;
}

/** Builds the bench platform when it is missing or older than any source (as `npm start` decides). */
export function ensureBuilt(noBuild: boolean): void {
  const main = join(DIST, MAIN_REL);
  if (noBuild) {
    if (!existsSync(main)) throw new Error(`BENCH_NO_BUILD=1 but ${main} does not exist`);
    log('BENCH_NO_BUILD=1: using dist/bench-platform as it is');
    return;
  }
  const entries = [main, join(DIST, SEED_REL)];
  if (
    !isStale(
      entries,
      SOURCES.map((dir) => join(ROOT, dir)),
    )
  )
    return;
  log('building the bench platform (nest build bench-platform)…');
  const t0 = Date.now();
  const nest = join(ROOT, 'node_modules/@nestjs/cli/bin/nest.js');
  const res = spawnSync(process.execPath, [nest, 'build', 'bench-platform'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (res.status !== 0) {
    throw new Error(
      `nest build bench-platform failed (exit ${res.status}); fix the build, or run the existing ` +
        'dist/bench-platform with BENCH_NO_BUILD=1',
    );
  }
  log(`built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/**
 * Every platform process of this run starts from one private copy of the build, so a rebuild of
 * dist/ meanwhile (`nest build` empties it first) cannot break or change a run half-way. The
 * copy sits in a temp dir with a node_modules link to the project's, and goes away at the end.
 */
export function snapshotBuild(): BuiltApp {
  const dir = lifecycle.makeTempDir('mcp-bench-app-');
  const copy = join(dir, 'dist');
  cpSync(DIST, copy, { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  lifecycle.defer(() => Promise.resolve(lifecycle.removeTempDir(dir)));
  const app = { main: join(copy, MAIN_REL), seed: join(copy, SEED_REL) };
  if (!existsSync(app.main) || !existsSync(app.seed)) {
    throw new Error(`${DIST} changed while it was copied (a build running elsewhere?); try again`);
  }
  return app;
}
