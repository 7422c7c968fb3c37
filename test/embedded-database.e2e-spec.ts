import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgres, prepareSocketDir } from '@app/database';
import { EMBEDDED_SERVER_SOURCE } from '../libs/database/src/embedded-server.source';
import { pollUntil } from './support/http';
import { spawnPlatform, useProcesses } from './support/processes';
import { childPids as childrenOf, isAlive as alive } from './support/procfs';

/** Resolves once `check` holds, polling; fails naming `what` after `ms`. */
const waitUntil = (check: () => boolean, what: string, ms = 10_000) =>
  pollUntil(ms, what, () => Promise.resolve(check() || undefined), 50);

/** Inodes of the sockets process `pid` has open, from /proc/<pid>/fd. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      /* closed meanwhile */
    }
  }
  return inodes;
}

/** Local addresses (hex, as the kernel writes them) of the TCP sockets `pid` listens on. */
function tcpListeners(pid: number): string[] {
  const mine = socketInodes(pid);
  const found: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && mine.has(f[9])) found.push(f[1]);
    }
  }
  return found;
}

/** Paths of the unix sockets `pid` listens on, from /proc/net/unix. */
function unixListeners(pid: number): string[] {
  const mine = socketInodes(pid);
  const SO_ACCEPTCON = 0x10000;
  return readFileSync('/proc/net/unix', 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => (parseInt(f[3], 16) & SO_ACCEPTCON) !== 0 && mine.has(f[6]))
    .map((f) => f[7]);
}

const modeOf = (path: string) => lstatSync(path).mode & 0o7777;

const onPath = (bin: string) =>
  (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .some((dir) => existsSync(join(dir, bin)));

/** Why this machine cannot run a command as the `postgres` OS user, if it cannot. */
function otherUserUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root, so runuser cannot switch users';
  if (!onPath('runuser')) return 'runuser is not on PATH';
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    /* no passwd file */
  }
  if (!/^postgres:/m.test(passwd)) return 'there is no postgres OS user';
  return undefined;
}

/** Connects as the `postgres` OS user to the socket in `socketDir` and runs `select 1`. */
function connectAsOtherUser(socketDir: string): { ok: boolean; output: string } {
  const socketPath = join(socketDir, '.s.PGSQL.5432');
  const [cmd, ...args] = onPath('psql')
    ? [
        'psql',
        '-h',
        socketDir,
        '-p',
        '5432',
        '-U',
        'postgres',
        '-d',
        'postgres',
        '-Atc',
        'select 1',
      ]
    : [
        process.execPath,
        '-e',
        `require('node:net').connect(${JSON.stringify(socketPath)})` +
          `.on('connect', () => { console.log('connected'); process.exit(0); })` +
          `.on('error', (e) => { console.error(e.message); process.exit(2); })`,
      ];
  const run = spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    cwd: '/',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGCONNECT_TIMEOUT: '5' },
  });
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}${run.error?.message ?? ''}` };
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('embedded database process', () => {
  let dir: string;
  const started: EmbeddedPostgres[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-platform-embedded-'));
  });
  afterEach(async () => {
    for (const db of started.splice(0)) await db.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const start = async () => {
    const db = await EmbeddedPostgres.start(dir);
    started.push(db);
    return db;
  };

  it('serves Postgres from its own process, keeps data across restarts and stops with stop()', async () => {
    const first = await start();
    expect(first.pid).toBeDefined();
    expect(first.pid).not.toBe(process.pid);
    expect(first.url).toBe(
      `postgres://postgres@${encodeURIComponent(join(dir, 'run'))}:5432/postgres`,
    );
    await query(first.url, 'CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$hello$$)');
    await first.stop();
    started.splice(0);
    expect(alive(first.pid!)).toBe(false);
    expect(existsSync(join(dir, 'platform.pid'))).toBe(false);
    expect(existsSync(join(dir, 'embedded-db.pid'))).toBe(false);

    const second = await start();
    expect(second.pid).not.toBe(first.pid);
    expect(await query(second.url, 'SELECT v FROM kept')).toEqual([{ v: 'hello' }]);
  });

  it('listens on no TCP port, only on a 0600 unix socket in a 0700 directory under DATA_DIR', async () => {
    // Left behind by a database process that was killed, with a mode that let anyone in.
    await mkdir(join(dir, 'run'), { mode: 0o777 });
    await chmod(join(dir, 'run'), 0o777);
    await writeFile(join(dir, 'run', '.s.PGSQL.5432'), 'stale');
    const db = await start();
    expect(db.socketDir).toBe(join(dir, 'run'));
    expect(db.socketPath).toBe(join(dir, 'run', '.s.PGSQL.5432'));

    expect(tcpListeners(db.pid!)).toEqual([]);
    expect(unixListeners(db.pid!)).toEqual([db.socketPath]);
    expect(modeOf(db.socketDir)).toBe(0o700);
    expect(lstatSync(db.socketPath).isSocket()).toBe(true);
    expect(modeOf(db.socketPath)).toBe(0o600);
    expect(await query(db.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);

    // The same look at /proc does see a TCP listener where there is one.
    const control = createServer();
    await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
    try {
      expect(tcpListeners(process.pid)).toHaveLength(1);
    } finally {
      await new Promise((r) => control.close(r));
    }

    await db.stop();
    started.splice(0);
    expect(existsSync(db.socketPath)).toBe(false);
  });

  it('serves memory:// on a socket in a fresh 0700 directory under os.tmpdir(), removed when it stops', async () => {
    const db = await EmbeddedPostgres.start('memory://');
    started.push(db);
    expect(dirname(db.socketDir)).toBe(tmpdir());
    expect(modeOf(db.socketDir)).toBe(0o700);
    expect(modeOf(db.socketPath)).toBe(0o600);
    expect(tcpListeners(db.pid!)).toEqual([]);
    expect(unixListeners(db.pid!)).toEqual([db.socketPath]);
    expect(await query(db.url, 'SELECT 2 AS two')).toEqual([{ two: 2 }]);
    await db.stop();
    started.splice(0);
    expect(existsSync(db.socketDir)).toBe(false);

    // Also when its process is killed rather than stopped.
    const killed = await EmbeddedPostgres.start('memory://');
    started.push(killed);
    const lost = new Promise<string>((r) => killed.onUnexpectedExit(r));
    process.kill(killed.pid!, 'SIGKILL');
    expect(await lost).toBe('SIGKILL');
    expect(existsSync(killed.socketDir)).toBe(false);
  });

  it('puts the socket in a short private directory when DATA_DIR is too deep for a socket path', async () => {
    const deep = join(dir, 'd'.repeat(100));
    const db = await EmbeddedPostgres.start(deep);
    started.push(db);
    expect(dirname(db.socketDir)).toBe(tmpdir());
    expect(modeOf(db.socketDir)).toBe(0o700);
    expect(tcpListeners(db.pid!)).toEqual([]);
    expect(await query(db.url, 'SELECT 3 AS three')).toEqual([{ three: 3 }]);
    await db.stop();
    started.splice(0);
    expect(existsSync(db.socketDir)).toBe(false);
  });

  // Where no other user can be switched to, the test is reported as skipped (not as passed),
  // and REQUIRE_OPS_TESTS=1 makes that an error.
  const noOtherUser = otherUserUnavailable();
  if (noOtherUser) {
    if (process.env.REQUIRE_OPS_TESTS === '1') {
      throw new Error(`REQUIRE_OPS_TESTS=1 but the other-user check cannot run: ${noOtherUser}`);
    }
    process.stderr.write(`embedded-database.e2e: other-user check skipped: ${noOtherUser}\n`);
  }
  (noOtherUser ? it.skip : it)('keeps other local users out (runuser -u postgres)', async () => {
    // Only the socket directory may be what keeps the other user out, not the test's temp dir.
    await chmod(dir, 0o755);
    const db = await start();

    const refused = connectAsOtherUser(db.socketDir);
    expect(refused.output).toMatch(/permission denied/i);
    expect(refused.ok).toBe(false);

    // The same command gets in once the modes allow it, so the refusal above was the modes'.
    await chmod(db.socketDir, 0o755);
    await chmod(db.socketPath, 0o777);
    const admitted = connectAsOtherUser(db.socketDir);
    expect(admitted).toEqual({ ok: true, output: expect.stringMatching(/^(1|connected)\n/) });
  });

  it('refuses a data directory another live process holds, naming it', async () => {
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await writeFile(join(dir, 'platform.pid'), String(other.pid));
      await expect(EmbeddedPostgres.start(dir)).rejects.toThrow(
        new RegExp(`in use by process ${other.pid}; stop it first, or set DATABASE_URL`),
      );
    } finally {
      other.kill();
    }
    await new Promise((r) => other.once('exit', r));
    // A lock left by a process that is gone is taken over.
    const db = await start();
    expect(await query(db.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('exits on its own when the platform process goes away without stopping it', async () => {
    const modules = {
      pglite: require.resolve('@electric-sql/pglite'),
      socket: require.resolve('@electric-sql/pglite-socket'),
      trgm: require.resolve('@electric-sql/pglite/contrib/pg_trgm'),
    };
    const socket = prepareSocketDir(dir);
    const job = {
      modules,
      location: join(dir, 'pgdata'),
      lock: join(dir, 'embedded-db.pid'),
      socket: { ...socket, path: join(socket.dir, '.s.PGSQL.5432') },
    };
    const child = spawn(process.execPath, ['-e', EMBEDDED_SERVER_SOURCE, JSON.stringify(job)], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const ready = await new Promise<{ ready?: string; error?: string }>((done) =>
      child.once('message', done),
    );
    expect(ready).toEqual({ ready: job.socket.path });
    expect(existsSync(job.lock)).toBe(true);
    // A supervisor's signal to the whole group is the platform's to act on, not the database's.
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(child.pid!)).toBe(true);

    child.disconnect(); // what the kernel does when the platform is killed
    expect(await exited).toBe(0);
    expect(existsSync(job.lock)).toBe(false);
    expect(existsSync(job.socket.path)).toBe(false);
  });

  it('reports a database that cannot start as an error, not a hang', async () => {
    const blocker = join(dir, 'file');
    await writeFile(blocker, 'not a directory');
    await expect(EmbeddedPostgres.start(blocker)).rejects.toThrow();
    await waitUntil(() => !existsSync(join(blocker, 'platform.pid')), 'no lock is left behind');
  });
});

describe('embedded database process of a running platform', () => {
  useProcesses({ postgres: false });
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-platform-embedded-proc-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('stops the platform with exit code 1 when the database process dies, and a restart recovers', async () => {
    const logFile = join(dir, 'first.log');
    const first = await spawnPlatform({ DATA_DIR: dir, LOG_FILE: logFile }, { waitForReady: true });
    const [db] = childrenOf(first.pid);
    expect(db).toBeDefined();
    expect(readFileSync(`/proc/${db}/cmdline`, 'utf8')).toContain('mcp-platform-db');
    // The platform listens on its HTTP port; its database on nothing but its unix socket.
    expect(tcpListeners(first.pid)).not.toEqual([]);
    expect(tcpListeners(db)).toEqual([]);
    expect(unixListeners(db)).toEqual([join(dir, 'run', '.s.PGSQL.5432')]);
    expect(modeOf(join(dir, 'run'))).toBe(0o700);

    process.kill(db, 'SIGKILL');
    expect(await first.exited).toEqual({ code: 1, signal: null });
    expect(readFileSync(logFile, 'utf8')).toContain(
      'the embedded database process exited (SIGKILL); stopping',
    );

    const second = await spawnPlatform({ DATA_DIR: dir }, { waitForReady: true });
    const [db2] = childrenOf(second.pid);
    // A platform killed outright takes its database process with it.
    await second.stop('SIGKILL');
    await waitUntil(() => !alive(db2), 'the orphaned database process exits');

    const third = await spawnPlatform({ DATA_DIR: dir }, { waitForReady: true });
    expect(await third.stop()).toEqual({ code: 0, signal: null });
    expect(childrenOf(third.pid)).toEqual([]);
  });
});
