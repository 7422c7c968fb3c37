import { DataSource } from 'typeorm';
import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { migrations } from './migrations';

const MIGRATION_LOCK = 727_001;

export function dataSourceOptions(url: string, embedded: boolean): PostgresConnectionOptions {
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
    extra: { connectionTimeoutMillis: 2_000, statement_timeout: 15_000 },
    logging: false,
  };
}

/**
 * Runs pending migrations under an advisory lock so replicas starting together don't race. The
 * embedded database has one process (its pid file) and one connection, so it needs no lock.
 */
export async function runMigrations(ds: DataSource, embedded = false): Promise<string[]> {
  if (embedded) return (await ds.runMigrations({ transaction: 'each' })).map((m) => m.name);
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const ran = await ds.runMigrations({ transaction: 'each' });
    return ran.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}
