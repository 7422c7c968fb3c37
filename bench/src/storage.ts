import { Client } from 'pg';
import type { BenchContext } from './context';
import { lifecycle } from './lifecycle';
import { errorMessage, log } from './util';

/** Where one platform process keeps its data; started again on it by restartPlatform. */
export interface Storage {
  env: Record<string, string>;
  /** Set on a Postgres server (DATABASE_URL); unset on the embedded database. */
  databaseUrl: string | undefined;
  dispose: () => Promise<void>;
}

let scratchDbUnsupported = false;

async function withClient(url: string, work: (c: Client) => Promise<unknown>): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await work(c);
  } finally {
    await c.end();
  }
}

/** A fresh temp DATA_DIR (embedded), or a scratch database on the DATABASE_URL server. */
export async function makeStorage(ctx: BenchContext, label: string): Promise<Storage> {
  const serverUrl = ctx.options.databaseUrl;
  if (!serverUrl) {
    const dir = lifecycle.makeTempDir(`mcp-bench-${label}-`);
    return {
      env: { DATA_DIR: dir },
      databaseUrl: undefined,
      dispose: () => Promise.resolve(lifecycle.removeTempDir(dir)),
    };
  }
  const name = `mcp_bench_${ctx.runId}_${label.replace(/[^a-z0-9]/g, '_')}`;
  if (!scratchDbUnsupported) {
    try {
      await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      return {
        env: { DATABASE_URL: url.toString() },
        databaseUrl: url.toString(),
        dispose: () =>
          withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
      };
    } catch (err) {
      scratchDbUnsupported = true;
      log(
        `warning: could not create a scratch database (${errorMessage(err)}); using DATABASE_URL ` +
          `itself. Bench tenants (slugs starting "a${ctx.runId}-" or "b${ctx.runId}-") are deleted at the end.`,
      );
    }
  }
  return {
    env: { DATABASE_URL: serverUrl },
    databaseUrl: serverUrl,
    // Deleting the tenants takes their keys, grants and audit events with them (ON DELETE CASCADE).
    dispose: () =>
      withClient(serverUrl, (c) =>
        c.query(`DELETE FROM tenants WHERE slug LIKE $1 OR slug LIKE $2`, [
          `a${ctx.runId}-%`,
          `b${ctx.runId}-%`,
        ]),
      ),
  };
}
