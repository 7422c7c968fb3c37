import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from './http';
import { findPostgresBinDir, postgresPasswdLine } from './postgres-bin';
import { childPids } from './procfs';

/**
 * A private PostgreSQL server for the operations suites: its own cluster in a temp dir, on its
 * own loopback port and socket dir, stopped and started at will. It never touches the machine's
 * shared cluster. jest.config.js only collects these suites where ./postgres-bin.js finds the
 * server binaries.
 */
export interface OwnPostgres {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` */
  url: string;
  port: number;
  dataDir: string;
  /** `pg_ctl stop -m fast`: connections are cut, new ones refused. */
  stop(): Promise<void>;
  /** Starts the same cluster on the same port again and waits until it accepts queries. */
  start(): Promise<void>;
  /** One query on a fresh connection. */
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
  ): Promise<R[]>;
  /** Stops the server (immediately) and removes its files. */
  destroy(): Promise<void>;
  /** The server's log so far (for failure messages). */
  log(): string;
}

/** uid and gid of the `postgres` account, for running the server when this process is root. */
function postgresAccount(): { uid: number; gid: number } {
  const line = postgresPasswdLine();
  if (!line) throw new Error('running as root, and there is no postgres user to run initdb as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * initdb and postgres refuse to run as root: then they run as the `postgres` account through
 * runuser (or su when there is no runuser).
 */
function command(file: string, args: string[]): [string, string[]] {
  if (!isRoot()) return [file, args];
  if (existsSync('/usr/sbin/runuser') || existsSync('/sbin/runuser')) {
    const runuser = existsSync('/usr/sbin/runuser') ? '/usr/sbin/runuser' : '/sbin/runuser';
    return [runuser, ['-u', 'postgres', '--', file, ...args]];
  }
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return ['su', ['postgres', '-s', '/bin/sh', '-c', [file, ...args].map(quote).join(' ')]];
}

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  const [cmd, argv] = command(file, args);
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      } else {
        resolve(`${stdout}${stderr}`);
      }
    });
  });
}

/** Every cluster this process started, stopped at exit even when a suite never got to it. */
const running = new Map<string, () => void>();
process.once('exit', () => {
  for (const stopNow of running.values()) stopNow();
});

async function untilAcceptingQueries(url: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`postgres at ${url} not accepting queries: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

/** initdb into a fresh temp dir, then `pg_ctl start` on a free loopback port. */
export async function ownPostgres(): Promise<OwnPostgres> {
  const bin = findPostgresBinDir();
  if (!bin) throw new Error('no PostgreSQL server binaries (initdb, pg_ctl, postgres) found');
  const root = mkdtempSync(join(tmpdir(), 'mcp-ops-pg-'));
  if (isRoot()) {
    const { uid, gid } = postgresAccount();
    chownSync(root, uid, gid);
  }
  const dataDir = join(root, 'data');
  const logFile = join(root, 'server.log');
  await run(
    join(bin, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    60_000,
  );
  let port = await freePort();
  const pgCtl = join(bin, 'pg_ctl');
  const options = () =>
    [
      `-p ${port}`,
      `-k ${root}`,
      '-c listen_addresses=127.0.0.1',
      // A scratch cluster: durability is not what these suites test.
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
    ].join(' ');
  const url = () => `postgres://postgres@127.0.0.1:${port}/postgres`;
  let up = false;

  const start = async (): Promise<void> => {
    if (up) return;
    await run(
      pgCtl,
      ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', options(), 'start'],
      90_000,
    );
    up = true;
    running.set(root, stopNow);
    await untilAcceptingQueries(url(), 30_000);
  };
  const stop = async (): Promise<void> => {
    if (!up) return;
    await run(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop'], 90_000);
    up = false;
  };
  function stopNow(): void {
    if (!existsSync(join(dataDir, 'postmaster.pid'))) return;
    const [cmd, argv] = command(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    spawnSync(cmd, argv, { stdio: 'ignore', timeout: 30_000 });
  }
  const readLog = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };

  // The free port can be taken between asking and binding: try another once or twice.
  for (let attempt = 0; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      if (attempt >= 2 || !/could not bind|already in use/i.test(readLog())) throw err;
      port = await freePort();
    }
  }

  return {
    get url() {
      return url();
    },
    get port() {
      return port;
    },
    dataDir,
    stop,
    start,
    query: async <R extends Record<string, unknown>>(sql: string, params: unknown[] = []) => {
      const c = new Client({ connectionString: url(), connectionTimeoutMillis: 5_000 });
      await c.connect();
      try {
        return (await c.query(sql, params)).rows as R[];
      } finally {
        await c.end();
      }
    },
    destroy: async () => {
      if (existsSync(join(dataDir, 'postmaster.pid'))) {
        await run(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], 30_000).catch(stopNow);
      }
      up = false;
      running.delete(root);
      rmSync(root, { recursive: true, force: true });
    },
    log: readLog,
  };
}

// ---------------------------------------------------------------------------------------------
// A hung server (not a refused one): every process of the cluster stopped with SIGSTOP

/** The postmaster's pid: the first line of `postmaster.pid`. */
export function postmasterPid(pg: Pick<OwnPostgres, 'dataDir'>): number {
  const pid = Number(readFileSync(join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no postmaster pid in ${pg.dataDir}`);
  return pid;
}

/** Processes stopped by freezePostgres and not yet continued; continued at exit at the latest. */
const frozen = new Set<number>();
// Before the cluster's own exit handler (which asks the server to stop: a stopped server can't).
process.prependListener('exit', () => {
  for (const pid of frozen) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone
    }
  }
});

/**
 * Freezes the server: SIGSTOP to the postmaster first (so it forks no more), then to every
 * backend and auxiliary process under it, rescanning until no unstopped child is left. Open
 * connections stay open and new ones are accepted by the kernel, but nothing answers: a hung
 * database, not a refused one. Returns the stopped pids; `thawPostgres` continues them.
 */
export function freezePostgres(pg: Pick<OwnPostgres, 'dataDir'>): number[] {
  const postmaster = postmasterPid(pg);
  process.kill(postmaster, 'SIGSTOP');
  frozen.add(postmaster);
  for (let round = 0; round < 10; round++) {
    const fresh = childPids(postmaster).filter((pid) => !frozen.has(pid));
    if (fresh.length === 0) break;
    for (const pid of fresh) {
      try {
        process.kill(pid, 'SIGSTOP');
        frozen.add(pid);
      } catch {
        // exited meanwhile
      }
    }
  }
  return [...frozen];
}

/** Continues every process freezePostgres stopped (children first, the postmaster last). */
export function thawPostgres(): void {
  const pids = [...frozen].reverse();
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone
    }
    frozen.delete(pid);
  }
}

/** True while a freezePostgres is not undone. */
export const isPostgresFrozen = (): boolean => frozen.size > 0;
