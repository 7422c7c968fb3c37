import { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { migrations } from './migrations';

const MIGRATION_LOCK = 727_001;

/** The message of pg's client-side `query_timeout` error. */
export const QUERY_READ_TIMEOUT = 'Query read timeout';

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  !!v && typeof (v as { then?: unknown }).then === 'function';

/**
 * A pg client that closes its connection when one of its queries hits `query_timeout`. pg gives up
 * waiting for the answer, but the query is still the connection's active one: everything sent
 * after it would queue behind it (and time out in turn) for as long as the server stays silent,
 * and a pool would keep handing the connection out. Ending it here (before the query's caller
 * gets to release it) makes the pool drop it on release and open a fresh one when next needed;
 * the server notices the closed socket when it can run again and abandons the query.
 */
export class TimeoutClosingClient extends Client {
  override query(...args: unknown[]): never {
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (err: unknown, res: unknown) => void;
      args[last] = (err: unknown, res: unknown) => {
        this.closeIfTimedOut(err);
        callback(err, res);
      };
    }
    const result = (Client.prototype.query as (...a: unknown[]) => unknown).apply(this, args);
    // Registered before the caller's own reaction, so it runs before the caller can release.
    if (isThenable(result)) result.then(undefined, (err: unknown) => this.closeIfTimedOut(err));
    return result as never;
  }

  private closeIfTimedOut(err: unknown): void {
    if (err instanceof Error && err.message === QUERY_READ_TIMEOUT) {
      // Marks the client as ending at once (the pool checks that on release); the socket is
      // destroyed because a query is still active.
      this.end().catch(() => undefined);
    }
  }
}

/**
 * `queryTimeoutMs` is pg's client-side `query_timeout`: how long a query may wait for its answer
 * before failing with "Query read timeout" (database unavailable: 503). Unlike the server-side
 * `statement_timeout`, it also fires when the server is hung or the network silently drops
 * packets. Omitted (or 0): no client-side limit.
 */
export function dataSourceOptions(
  url: string,
  embedded: boolean,
  queryTimeoutMs?: number,
): PostgresConnectionOptions {
  return {
    type: 'postgres',
    url,
    migrations,
    migrationsTableName: 'migrations',
    migrationsRun: false,
    synchronize: false,
    installExtensions: false,
    uuidExtension: 'pgcrypto',
    // PGlite has one backend: connections multiplexed onto it can interleave the messages of
    // extended-protocol queries (unnamed statements and portals clash), so the embedded database
    // gets exactly one connection. It executes one statement at a time anyway.
    poolSize: embedded ? 1 : 10,
    // Fail fast while the database is away: requests answer 503 instead of hanging.
    extra: {
      connectionTimeoutMillis: 2_000,
      statement_timeout: 15_000,
      ...(queryTimeoutMs ? { query_timeout: queryTimeoutMs, Client: TimeoutClosingClient } : {}),
    },
    logging: false,
  };
}

/** How long a replica waits for another one's migrations before giving up. */
const MIGRATION_LOCK_WAIT_MS = 120_000;

/**
 * Runs pending migrations under an advisory lock so replicas starting together don't race. The
 * embedded database has one process (its pid file) and one connection, so it needs no lock.
 * The lock is polled rather than waited for in one statement: a blocking `pg_advisory_lock` would
 * be cut short by the query timeouts while another replica migrates.
 */
export async function runMigrations(ds: DataSource, embedded = false): Promise<string[]> {
  if (embedded) return (await ds.runMigrations({ transaction: 'each' })).map((m) => m.name);
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    const deadline = Date.now() + MIGRATION_LOCK_WAIT_MS;
    for (;;) {
      const [row] = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [
        MIGRATION_LOCK,
      ])) as { locked: boolean }[];
      if (row?.locked) break;
      if (Date.now() > deadline) {
        throw new Error(
          `another process has held the migration lock for ${MIGRATION_LOCK_WAIT_MS / 1000} s`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const ran = await ds.runMigrations({ transaction: 'each' });
    return ran.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}
