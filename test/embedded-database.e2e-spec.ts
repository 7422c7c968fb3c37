import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgres } from '@app/database';
import { EMBEDDED_SERVER_SOURCE } from '../libs/database/src/embedded-server.source';
import { spawnPlatform, stopAllPlatforms } from './support/proc-platform';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Pids whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid …": comm may contain spaces, so read after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

async function waitUntil(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
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
    expect(first.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
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
    const job = { modules, location: join(dir, 'pgdata'), lock: join(dir, 'embedded-db.pid') };
    const child = spawn(process.execPath, ['-e', EMBEDDED_SERVER_SOURCE, JSON.stringify(job)], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const ready = await new Promise<{ ready?: number; error?: string }>((done) =>
      child.once('message', done),
    );
    expect(ready.ready).toEqual(expect.any(Number));
    expect(existsSync(job.lock)).toBe(true);
    // A supervisor's signal to the whole group is the platform's to act on, not the database's.
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(child.pid!)).toBe(true);

    child.disconnect(); // what the kernel does when the platform is killed
    expect(await exited).toBe(0);
    expect(existsSync(job.lock)).toBe(false);
  });

  it('reports a database that cannot start as an error, not a hang', async () => {
    const blocker = join(dir, 'file');
    await writeFile(blocker, 'not a directory');
    await expect(EmbeddedPostgres.start(blocker)).rejects.toThrow();
    await waitUntil(() => !existsSync(join(blocker, 'platform.pid')), 'no lock is left behind');
  });
});

describe('embedded database process of a running platform', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-platform-embedded-proc-'));
  });
  afterAll(async () => {
    await stopAllPlatforms();
    await rm(dir, { recursive: true, force: true });
  });

  it('stops the platform with exit code 1 when the database process dies, and a restart recovers', async () => {
    const logFile = join(dir, 'first.log');
    const first = await spawnPlatform({ DATA_DIR: dir, LOG_FILE: logFile }, { waitForReady: true });
    const [db] = childrenOf(first.pid);
    expect(db).toBeDefined();
    expect(readFileSync(`/proc/${db}/cmdline`, 'utf8')).toContain('mcp-platform-db');

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
