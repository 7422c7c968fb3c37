import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_TOKEN, AdminClient } from './admin';
import { freePort, http, pollUntil, sleep } from './http';
import { OwnPostgres, ownPostgres, thawPostgres } from './postgres';
import { LocalRedis, startRedis } from './redis';
import { isStale as isOlderThanSources } from '../../scripts/build-freshness';

/**
 * The built platform in its own OS process, as `npm start` runs it: for what the in-process e2e
 * harness cannot show (several replicas, a database that goes away, signals and exit codes).
 */

const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');
const MAIN_REL = join('apps', 'platform', 'apps', 'platform', 'src', 'main.js');
const BUILD_TIMEOUT_MS = 180_000;

const mtime = (p: string) => (existsSync(p) ? statSync(p).mtimeMs : 0);

/** As `npm start` decides: the build is missing or older than a source. */
const isStale = () =>
  isOlderThanSources([join(DIST, MAIN_REL)], [join(ROOT, 'apps'), join(ROOT, 'libs')]);

/**
 * `nest build`. Type errors do not stop tsc from emitting (`npm test` type-checks first anyway):
 * a build that reports type errors but emitted a fresh main.js is used, with a warning. Anything
 * else that fails is an error.
 */
async function nestBuild(): Promise<void> {
  const nest = join(ROOT, 'node_modules/@nestjs/cli/bin/nest.js');
  const started = Date.now();
  const failure = await new Promise<string | undefined>((resolve) => {
    execFile(
      process.execPath,
      [nest, 'build'],
      { cwd: ROOT, timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => resolve(err ? `${err.message}\n${stdout}${stderr}` : undefined),
    );
  });
  if (!failure) return;
  const emitted = mtime(join(DIST, MAIN_REL)) >= started - 1_000 && !isStale();
  if (!emitted) throw new Error(`nest build failed: ${failure}`);
  process.stderr.write(
    `warning: nest build reported errors but emitted dist/; the ops suites run it:\n${failure.slice(0, 2_000)}\n`,
  );
}

/** Copies that exist in this process, removed at exit at the latest. */
const copies = new Set<string>();
process.once('exit', () => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

let built: Promise<string> | undefined;

/**
 * Makes sure dist/ is built from the current sources (as scripts/start.js does), then copies it
 * to a private directory for this test file: another engineer may rebuild dist/ meanwhile (`nest
 * build` empties it first). The copy lives under node_modules/.cache (ignored by git) so the
 * compiled code still resolves the project's node_modules. Returns the copy's main.js.
 */
export function buildOnce(): Promise<string> {
  built ??= (async () => {
    for (let attempt = 1; ; attempt++) {
      if (isStale()) await nestBuild();
      const source = join(DIST, MAIN_REL);
      const before = mtime(source);
      const dir = join(
        ROOT,
        'node_modules',
        '.cache',
        `mcp-platform-test-dist-${randomBytes(6).toString('hex')}`,
      );
      copies.add(dir);
      try {
        cpSync(DIST, dir, { recursive: true });
      } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        copies.delete(dir);
        if (attempt >= 4) throw err;
        await sleep(3_000); // a build elsewhere is emptying and refilling dist/
        continue;
      }
      const main = join(dir, MAIN_REL);
      // A rebuild that started while copying leaves a mixed or partial copy: take another.
      if (existsSync(main) && mtime(source) === before && !isStale()) return main;
      rmSync(dir, { recursive: true, force: true });
      copies.delete(dir);
      if (attempt >= 4) throw new Error('dist/ kept changing while it was copied; try again');
      await sleep(3_000);
    }
  })();
  return built;
}

/** Removes this file's copy of the build (afterAll). */
export function removeBuildCopies(): void {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
  copies.clear();
  built = undefined;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface PlatformProcess {
  name: string;
  url: string;
  port: number;
  pid: number;
  /** The admin API of this process, as the platform admin. */
  admin: AdminClient;
  child: ChildProcess;
  /** Sends a signal (SIGTERM by default); resolves with how the process ended. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
  /** Settles once the process has exited. */
  exited: Promise<Exit>;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
}

const processes = new Set<PlatformProcess>();
process.once('exit', () => {
  for (const p of processes)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

let spawned = 0;

/**
 * Starts the built platform (buildOnce) in its own process on a free loopback port and waits for
 * /healthz. Logs go to MCP_E2E_LOG_DIR when set, so the run's secret scan covers them.
 */
export async function spawnPlatform(
  env: Record<string, string>,
  opts: { name?: string; waitForReady?: boolean } = {},
): Promise<PlatformProcess> {
  const main = await buildOnce();
  const port = await freePort();
  spawned += 1;
  const name = `ops-${process.pid}-${spawned}-${opts.name ?? 'platform'}`;
  const inherited = { ...process.env };
  for (const k of [
    'DATABASE_URL',
    'REDIS_URL',
    'PUBLIC_URL',
    'LOG_FILE',
    'LOG_LEVEL',
    'DATA_DIR',
    'ADMIN_TOKEN',
    'MCP_STATELESS',
    'NODE_OPTIONS',
    'EGRESS_ALLOW',
  ]) {
    delete inherited[k];
  }
  const logDir = process.env.MCP_E2E_LOG_DIR;
  const childEnv: NodeJS.ProcessEnv = {
    ...inherited,
    HOST: '127.0.0.1',
    PORT: String(port),
    ADMIN_TOKEN,
    LOG_LEVEL: 'warn',
    ...(logDir ? { LOG_FILE: join(logDir, `${name}.log`) } : {}),
    // The suites make many requests and some deliberate refusals from one address.
    AUTH_FAILURES_PER_MINUTE: '0',
    ADMIN_AUTH_FAILURES_PER_MINUTE: '0',
    RATE_LIMIT_KEY_PER_MINUTE: '0',
    RATE_LIMIT_TENANT_PER_MINUTE: '0',
    EGRESS_ALLOW: '127.0.0.0/8,::1/128',
    ...env,
  };
  const child = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (c: Buffer) => {
    out += c.toString('utf8');
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const url = `http://127.0.0.1:${port}`;
  const proc: PlatformProcess = {
    name,
    url,
    port,
    pid: child.pid ?? -1,
    admin: new AdminClient(url),
    child,
    exited,
    output: () => out,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  processes.add(proc);
  let gone: Exit | undefined;
  void exited.then((e) => (gone = e));
  const path = opts.waitForReady ? '/readyz' : '/healthz';
  await pollUntil(
    90_000,
    `${name} answering ${path}`,
    async () => {
      if (gone) {
        throw new Error(`${name} exited (${gone.code ?? gone.signal}) before it was up:\n${out}`);
      }
      try {
        const res = await http(url, { path, timeoutMs: 3_000 });
        return res.status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    },
    100,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${out.slice(-4_000)}`);
  });
  return proc;
}

/** Resolves once `p` answers /readyz with 200, polling every `intervalMs`; fails after `ms`. */
export const untilReady = (p: PlatformProcess, ms: number, intervalMs = 100) =>
  pollUntil(
    ms,
    `${p.name} answering /readyz with 200`,
    async () => (await http(p.url, { path: '/readyz' })).status === 200 || undefined,
    intervalMs,
  );

/** Kills (SIGKILL after a grace period) every platform process still running; for afterAll. */
export async function stopAllPlatforms(graceMs = 15_000): Promise<void> {
  await Promise.all(
    [...processes].map(async (p) => {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGTERM');
        const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
        await p.exited;
        clearTimeout(timer);
      }
      processes.delete(p);
    }),
  );
}

/** What a file's processes run on: its own PostgreSQL server and, when asked for, Redis. */
export interface ProcessesFixture {
  readonly pg: OwnPostgres;
  readonly redis: LocalRedis;
}

/**
 * Starts what the processes of the enclosing describe block need (beforeAll): a PostgreSQL server
 * of their own unless `postgres: false`, a Redis when `redis: true`. After the block (afterAll) it
 * continues a server freezePostgres stopped (a stopped server cannot even be stopped), stops every
 * platform process the file spawned, then Redis and PostgreSQL, and removes the file's copy of
 * the build.
 */
export function useProcesses(opts: { postgres?: boolean; redis?: boolean } = {}): ProcessesFixture {
  let pg: OwnPostgres | undefined;
  let redis: LocalRedis | undefined;
  beforeAll(async () => {
    [pg, redis] = await Promise.all([
      opts.postgres === false ? undefined : ownPostgres(),
      opts.redis ? startRedis() : undefined,
    ]);
  }, 120_000);
  afterAll(async () => {
    thawPostgres();
    await stopAllPlatforms();
    await redis?.stop();
    await pg?.destroy();
    removeBuildCopies();
  }, 60_000);
  const absent = (what: string) => new Error(`useProcesses: no ${what} (not asked for, or not up)`);
  return {
    get pg() {
      if (!pg) throw absent('PostgreSQL');
      return pg;
    },
    get redis() {
      if (!redis) throw absent('Redis');
      return redis;
    },
  };
}
