import { execFile, spawnSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { Client } from 'pg';
import { freePort } from './proc-net';

/**
 * A private PostgreSQL server for the operations suites: its own cluster in a temp dir, on its
 * own loopback port and socket dir, stopped and started at will. It never touches the machine's
 * shared cluster. jest.config.js only collects these suites when the server binaries exist (the
 * same search as `findPostgresBinDir` below).
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

const REQUIRED = ['initdb', 'pg_ctl', 'postgres'];

function hasAll(dir: string): boolean {
  return REQUIRED.every((b) => existsSync(join(dir, b)));
}

/**
 * Where `initdb`, `pg_ctl` and `postgres` are: PG_BINDIR, `pg_config --bindir`, the directory of
 * an `initdb` on PATH (symlinks resolved), or the newest /usr/lib/postgresql/<v>/bin (and the
 * like). jest.config.js runs the same search to decide whether to collect the ops suites.
 */
export function findPostgresBinDir(): string | undefined {
  const candidates: string[] = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (pgConfig.status === 0 && pgConfig.stdout.trim()) candidates.push(pgConfig.stdout.trim());
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const initdb = join(dir, 'initdb');
    if (existsSync(initdb)) candidates.push(dirname(realpathSync(initdb)));
  }
  for (const base of ['/usr/lib/postgresql', '/usr/local/pgsql', '/opt/homebrew/opt']) {
    if (!existsSync(base)) continue;
    if (existsSync(join(base, 'bin'))) candidates.push(join(base, 'bin'));
    const versions = readdirSync(base).sort((a, b) => parseFloat(b) - parseFloat(a));
    for (const v of versions) candidates.push(join(base, v, 'bin'));
  }
  return candidates.find(hasAll);
}

/** uid and gid of the `postgres` account, for running the server when this process is root. */
function postgresAccount(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
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
