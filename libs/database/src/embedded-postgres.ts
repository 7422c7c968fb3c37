import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EMBEDDED_SERVER_SOURCE } from './embedded-server.source';

export interface EmbeddedStartOptions {
  /** For `memory://`: a dump of a fresh cluster to load instead of running initdb (tests). */
  templateFile?: string;
}

type ChildMessage = { ready: string } | { error: string } | { dumped: true };

/**
 * The port number in the socket file's name, `.s.PGSQL.<port>`: pg and psql build the socket path
 * from a directory (the host) and a port. 5432, so `psql -h <socketDir> -U postgres` just works.
 */
const SOCKET_PORT = 5432;
const SOCKET_FILE = `.s.PGSQL.${SOCKET_PORT}`;
/** `sun_path` holds 108 bytes on Linux and 104 on macOS and the BSDs, the NUL included. */
const MAX_SOCKET_PATH_BYTES = 103;

/** Where the embedded database's unix socket lives. */
export interface EmbeddedSocketDir {
  dir: string;
  /** A directory of its own under os.tmpdir(), removed when the database stops. */
  temporary: boolean;
}

/**
 * A directory only this OS user may enter, for the embedded database's socket: `<dataDir>/run`,
 * or, for `memory://` (no dataDir) and for a dataDir so deep that the socket path would not fit
 * in a unix socket address, a fresh `mkdtemp` directory under os.tmpdir().
 */
export function prepareSocketDir(dataDir: string | undefined): EmbeddedSocketDir {
  if (dataDir !== undefined) {
    const dir = join(resolve(dataDir), 'run');
    if (fitsSocketAddress(dir)) {
      ensurePrivateDir(dir);
      return { dir, temporary: false };
    }
    // Too long for a unix socket address: a short private directory under os.tmpdir() instead.
  }
  const dir = mkdtempSync(join(tmpdir(), 'mcp-platform-db-'));
  try {
    chmodSync(dir, 0o700); // mkdtemp makes it 0700 already; this says so.
    if (!fitsSocketAddress(dir)) {
      throw new Error(
        `no unix socket path for the embedded database fits in ${MAX_SOCKET_PATH_BYTES} bytes ` +
          `(${join(dir, SOCKET_FILE)}); set TMPDIR to a shorter directory`,
      );
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, temporary: true };
}

/** The pg (and libpq) URL of the socket in `dir`: the host is the directory, percent-encoded. */
export function socketUrl(dir: string): string {
  // Not `?host=`: a URL that lost its query would reach whatever listens on localhost:5432.
  return `postgres://postgres@${encodeURIComponent(dir)}:${SOCKET_PORT}/postgres`;
}

function fitsSocketAddress(dir: string): boolean {
  return Buffer.byteLength(join(dir, SOCKET_FILE)) <= MAX_SOCKET_PATH_BYTES;
}

/** Makes `dir` (mode 0700, owned by this user) or repairs its mode; refuses anything else there. */
function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const stat = lstatSync(dir);
  if (!stat.isDirectory()) {
    throw new Error(
      `${dir} must be a directory for the embedded database's socket, not a link or file`,
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new Error(
      `${dir} (the embedded database's socket directory) belongs to uid ${stat.uid}, not to this ` +
        `process's uid ${uid}; remove it`,
    );
  }
  // Also when we just made it: mkdir's mode is reduced by the umask, which may leave out the owner.
  if ((stat.mode & 0o7777) !== 0o700) chmodSync(dir, 0o700);
}

/**
 * PGlite in a child process, served over the Postgres wire protocol on a unix socket in a
 * directory only the platform's OS user may enter (never on TCP: PGlite has no authentication,
 * anyone who can connect is superuser), so the embedded database goes through exactly the same
 * `pg` driver path as a real server. PGlite runs queries synchronously in WebAssembly; in its own
 * process it never blocks the platform's event loop, uses the second core, and its memory is not
 * the platform's.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly child: ChildProcess,
    private readonly lockFile: string | undefined,
    private readonly socket: EmbeddedSocketDir,
    readonly url: string,
    readonly location: string,
  ) {
    child.once('exit', (code, signal) => {
      this.exited = true;
      this.removeTemporarySocketDir();
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

  /** The directory (mode 0700) holding the socket; what `psql -h` takes. */
  get socketDir(): string {
    return this.socket.dir;
  }

  /** The unix socket (mode 0600) the database listens on. */
  get socketPath(): string {
    return join(this.socket.dir, SOCKET_FILE);
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
    let socket: EmbeddedSocketDir | undefined;
    try {
      socket = prepareSocketDir(inMemory ? undefined : dataDir);
      const child = spawnServer({
        location,
        template: inMemory
          ? (options.templateFile ?? EmbeddedPostgres.memoryTemplateFile)
          : undefined,
        lock: inMemory ? undefined : join(resolve(dataDir), 'embedded-db.pid'),
        socket: { ...socket, path: join(socket.dir, SOCKET_FILE) },
      });
      try {
        await firstMessage(child);
      } catch (err) {
        child.kill();
        throw err;
      }
      child.unref();
      child.channel?.unref();
      return new EmbeddedPostgres(child, lockFile, socket, socketUrl(socket.dir), location);
    } catch (err) {
      if (lockFile) rmSync(lockFile, { force: true });
      if (socket?.temporary) rmSync(socket.dir, { recursive: true, force: true });
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
    this.removeTemporarySocketDir();
  }

  /** The child removes it when it stops; this covers a child that was killed. */
  private removeTemporarySocketDir(): void {
    if (this.socket.temporary) rmSync(this.socket.dir, { recursive: true, force: true });
  }
}

function spawnServer(job: {
  location?: string;
  template?: string;
  lock?: string;
  dump?: string;
  socket?: EmbeddedSocketDir & { path: string };
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

function firstMessage(child: ChildProcess): Promise<void> {
  return new Promise((done, fail) => {
    const onExit = (code: number | null) =>
      fail(new Error(`the embedded database process exited (code ${code}) before it was ready`));
    child.once('exit', onExit);
    child.once('message', (msg: ChildMessage) => {
      child.off('exit', onExit);
      if ('error' in msg) fail(new Error(msg.error));
      else done();
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
