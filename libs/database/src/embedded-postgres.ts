import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Extension, PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

// The contrib entry's type declarations are ESM-only; its CommonJS build is what runs.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { pg_trgm } = require('@electric-sql/pglite/contrib/pg_trgm') as { pg_trgm: Extension };

/**
 * PGlite served over the Postgres wire protocol on a loopback port, so the embedded database
 * goes through exactly the same `pg` driver path as a real server.
 */
export class EmbeddedPostgres {
  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    private readonly lockFile: string | undefined,
    readonly url: string,
    readonly location: string,
  ) {}

  /**
   * A dump of a freshly initialised cluster to start in-memory databases from, skipping initdb
   * (seconds per start). Tests set it; `memory://` databases use it when present.
   */
  static memoryTemplate: Blob | undefined;

  static async dumpFreshCluster(): Promise<Blob> {
    const db = await PGlite.create('memory://', { extensions: { pg_trgm } });
    try {
      return await db.dumpDataDir('none');
    } finally {
      await db.close();
    }
  }

  /** `dataDir` of `memory://` keeps everything in memory (tests). */
  static async start(dataDir: string): Promise<EmbeddedPostgres> {
    const inMemory = dataDir.startsWith('memory://');
    const location = inMemory ? dataDir : resolve(dataDir, 'pgdata');
    let lockFile: string | undefined;
    if (!inMemory) {
      mkdirSync(location, { recursive: true });
      lockFile = join(resolve(dataDir), 'platform.pid');
      acquireLock(lockFile);
    }
    try {
      const template = inMemory ? EmbeddedPostgres.memoryTemplate : undefined;
      const db = await PGlite.create(location, {
        extensions: { pg_trgm },
        ...(template ? { loadDataDir: template } : {}),
      });
      const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
      await server.start();
      const address = (server as unknown as { server: import('node:net').Server }).server.address();
      if (!address || typeof address === 'string') throw new Error('embedded database has no port');
      const url = `postgres://postgres@127.0.0.1:${address.port}/postgres`;
      return new EmbeddedPostgres(db, server, lockFile, url, location);
    } catch (err) {
      if (lockFile) rmSync(lockFile, { force: true });
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
    if (this.lockFile) rmSync(this.lockFile, { force: true });
  }
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
