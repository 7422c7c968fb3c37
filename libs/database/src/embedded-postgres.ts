import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EMBEDDED_SERVER_SOURCE } from './embedded-server.source';

export interface EmbeddedStartOptions {
  /** For `memory://`: a dump of a fresh cluster to load instead of running initdb (tests). */
  templateFile?: string;
}

type ChildMessage = { ready: number } | { error: string } | { dumped: true };

/**
 * PGlite in a child process, served over the Postgres wire protocol on a loopback port, so the
 * embedded database goes through exactly the same `pg` driver path as a real server. PGlite runs
 * queries synchronously in WebAssembly; in its own process it never blocks the platform's event
 * loop, uses the second core, and its memory is not the platform's.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly child: ChildProcess,
    private readonly lockFile: string | undefined,
    readonly url: string,
    readonly location: string,
  ) {
    child.once('exit', (code, signal) => {
      this.exited = true;
      if (this.stopping) return;
      const how = signal ?? `code ${code}`;
      if (this.onLost) this.onLost(how);
      else {
        process.stderr.write(
          `embedded database process exited unexpectedly (${how}); ` +
            'requests answer 503 until the platform is restarted\n',
        );
      }
    });
  }

  private stopping = false;
  private exited = false;
  private onLost?: (how: string) => void;

  /** Called instead of the default warning when the database process dies on its own. */
  onUnexpectedExit(handler: (how: string) => void): void {
    this.onLost = handler;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * A dump of a freshly initialised cluster that `memory://` databases start from, skipping initdb
   * (seconds per start). Tests set it.
   */
  static memoryTemplateFile: string | undefined;

  /** Writes a dump of a freshly initialised cluster to `file` (the tests' memory template). */
  static async dumpFreshCluster(file: string): Promise<void> {
    const child = spawnServer({ dump: file });
    try {
      await firstMessage(child);
    } finally {
      child.kill();
    }
  }

  /** `dataDir` of `memory://` keeps everything in memory (tests). */
  static async start(
    dataDir: string,
    options: EmbeddedStartOptions = {},
  ): Promise<EmbeddedPostgres> {
    const inMemory = dataDir.startsWith('memory://');
    const location = inMemory ? dataDir : resolve(dataDir, 'pgdata');
    let lockFile: string | undefined;
    if (!inMemory) {
      mkdirSync(location, { recursive: true });
      lockFile = join(resolve(dataDir), 'platform.pid');
      acquireLock(lockFile);
    }
    try {
      const child = spawnServer({
        location,
        template: inMemory
          ? (options.templateFile ?? EmbeddedPostgres.memoryTemplateFile)
          : undefined,
        lock: inMemory ? undefined : join(resolve(dataDir), 'embedded-db.pid'),
      });
      let port: number;
      try {
        port = await firstMessage(child);
      } catch (err) {
        child.kill();
        throw err;
      }
      child.unref();
      child.channel?.unref();
      return new EmbeddedPostgres(
        child,
        lockFile,
        `postgres://postgres@127.0.0.1:${port}/postgres`,
        location,
      );
    } catch (err) {
      if (lockFile) rmSync(lockFile, { force: true });
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.exited) {
      const exited = new Promise<void>((done) => this.child.once('exit', () => done()));
      this.child.ref();
      if (this.child.connected) this.child.send('stop');
      else this.child.kill();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    if (this.lockFile) rmSync(this.lockFile, { force: true });
  }
}

function spawnServer(job: {
  location?: string;
  template?: string;
  lock?: string;
  dump?: string;
}): ChildProcess {
  const modules = {
    pglite: require.resolve('@electric-sql/pglite'),
    socket: require.resolve('@electric-sql/pglite-socket'),
    trgm: require.resolve('@electric-sql/pglite/contrib/pg_trgm'),
  };
  return spawn(
    process.execPath,
    ['-e', EMBEDDED_SERVER_SOURCE, JSON.stringify({ modules, ...job })],
    {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      // The platform's Node options (inspector, CPU profile, heap limit) are not the database's.
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  );
}

function firstMessage(child: ChildProcess): Promise<number> {
  return new Promise((done, fail) => {
    const onExit = (code: number | null) =>
      fail(new Error(`the embedded database process exited (code ${code}) before it was ready`));
    child.once('exit', onExit);
    child.once('message', (msg: ChildMessage) => {
      child.off('exit', onExit);
      if ('error' in msg) fail(new Error(msg.error));
      else done('ready' in msg ? msg.ready : 0);
    });
  });
}

function acquireLock(file: string): void {
  try {
    const pid = Number(readFileSync(file, 'utf8'));
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new Error(
        `the embedded database in ${file.replace(/platform\.pid$/, '')} is in use by process ${pid}; ` +
          'stop it first, or set DATABASE_URL to share a Postgres server between processes',
      );
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  writeFileSync(file, String(process.pid));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
