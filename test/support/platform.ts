import { randomBytes } from 'node:crypto';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { DynamicModule } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Client as PgClient } from 'pg';
import request from 'supertest';
import { loadConfig, PlatformConfig } from '@app/config';
import { EmbeddedPostgres } from '@app/database';
import { createPlatformApp } from '../../apps/platform/src/bootstrap';
import { ADMIN_TOKEN, AdminClient } from './admin';
import { freePort } from './http';
import { connect, McpConnection, McpOptions, openMcp, TransportKind } from './mcp';

export { ADMIN, ADMIN_TOKEN, uniqueSlug } from './admin';

/** An application in this process, listening on a loopback port. */
export interface TestPlatform {
  app: NestExpressApplication;
  config: PlatformConfig;
  url: string;
  /** supertest on this app, for the requests a test is about. */
  http: () => ReturnType<typeof request>;
  close: () => Promise<void>;
}

/** The platform as startPlatform starts it, with an admin client for what a test sets up. */
export interface RunningPlatform extends TestPlatform {
  admin: AdminClient;
}

/** A fresh database on the server named by DATABASE_URL, dropped again by the returned function. */
export async function freshServerDatabase(
  serverUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `mcp_test_${randomBytes(6).toString('hex')}`;
  const run = async (sql: string) => {
    const c = new PgClient({ connectionString: serverUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * Every in-memory PGlite would run initdb (seconds); one dump of a fresh cluster, shared by the
 * whole run through a temp file, is loaded instead. Migrations still run on every start.
 */
async function useMemoryTemplate(): Promise<void> {
  if (EmbeddedPostgres.memoryTemplateFile) return;
  const pkgFile = join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  const { version } = JSON.parse(await readFile(pkgFile, 'utf8')) as { version: string };
  const file = join(tmpdir(), `mcp-platform-pglite-template-${version}.tar`);
  try {
    await access(file);
  } catch {
    await EmbeddedPostgres.dumpFreshCluster(file);
  }
  EmbeddedPostgres.memoryTemplateFile = file;
}

/**
 * The real application on a real database: embedded PGlite in memory by default, or a fresh
 * database on the Postgres server in DATABASE_URL.
 */
export async function startPlatform(
  env: Record<string, string> = {},
  opts: LaunchOptions = {},
): Promise<RunningPlatform> {
  if (!process.env.DATABASE_URL) await useMemoryTemplate();
  const server = process.env.DATABASE_URL
    ? await freshServerDatabase(process.env.DATABASE_URL)
    : undefined;
  return launchPlatform(
    { ...(server ? { DATABASE_URL: server.url } : {}), ...env },
    server?.drop,
    opts,
  );
}

export interface LaunchOptions {
  /** The root module, composing the product's AppModule (default: AppModule alone). */
  compose?: (config: PlatformConfig) => DynamicModule;
}

let launched = 0;

/**
 * Starts the app with the test defaults under `env`. Every instance logs at debug level to its own
 * file in MCP_E2E_LOG_DIR (set by test/global-setup.js), which the global teardown scans for
 * secrets. `ADMIN_TOKEN: ''` in env starts it without an admin token.
 */
export async function launchPlatform(
  env: Record<string, string>,
  dispose?: () => Promise<void>,
  opts: LaunchOptions = {},
): Promise<RunningPlatform> {
  const port = await freePort();
  const logDir = process.env.MCP_E2E_LOG_DIR;
  launched += 1;
  const config = loadConfig({
    ADMIN_TOKEN,
    DATA_DIR: 'memory://',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? (logDir ? 'debug' : 'silent'),
    ...(logDir ? { LOG_FILE: join(logDir, `${process.pid}-${launched}.log`) } : {}),
    PORT: String(port),
    // Suites make many requests and many deliberate refusals from one address; the rate-limit
    // suites turn these back on.
    AUTH_FAILURES_PER_MINUTE: '0',
    ADMIN_AUTH_FAILURES_PER_MINUTE: '0',
    RATE_LIMIT_KEY_PER_MINUTE: '0',
    RATE_LIMIT_TENANT_PER_MINUTE: '0',
    // The identity providers and tool sources of the suites run on loopback; the egress suites
    // set their own.
    EGRESS_ALLOW: '127.0.0.0/8,::1/128',
    ...env,
  });
  const app = await createPlatformApp(config, {
    forceCloseConnections: true,
    module: opts.compose?.(config),
  });
  await app.listen(config.port, config.host);
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    config,
    url,
    http: () => request(url),
    admin: new AdminClient(url),
    close: async () => {
      await app.close();
      await dispose?.();
    },
  };
}

/** A platform of the describe block it is called in, with MCP clients it closes itself. */
export interface PlatformFixture extends RunningPlatform {
  /** An SDK client, closed before the platform. */
  connect(slug: string, headers: Record<string, string>, kind?: TransportKind): Promise<Client>;
  /** An SDK client on Streamable HTTP with its transport's records, closed before the platform. */
  openMcp(slug: string, headers: Record<string, string>, opts?: McpOptions): Promise<McpConnection>;
}

/**
 * Starts a platform before the tests of the enclosing describe block (beforeAll) and stops it
 * after them (afterAll), with every client opened through it. Its fields are there once the
 * block's tests run.
 */
export function usePlatform(
  env: Record<string, string> = {},
  opts: LaunchOptions = {},
): PlatformFixture {
  const clients: Client[] = [];
  const track = <T extends Client>(c: T) => {
    clients.push(c);
    return c;
  };
  const fixture = {
    connect: async (slug: string, headers: Record<string, string>, kind?: TransportKind) =>
      track(await connect(fixture, slug, headers, kind)),
    openMcp: async (slug: string, headers: Record<string, string>, opts?: McpOptions) => {
      const c = await openMcp(fixture, slug, headers, opts);
      track(c.client);
      return c;
    },
  } as PlatformFixture;
  beforeAll(async () => {
    Object.assign(fixture, await startPlatform(env, opts));
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
    await fixture.close?.();
  });
  return fixture;
}

/**
 * Storage that outlives one application instance: a fresh directory for the embedded database,
 * or a fresh database on the server in DATABASE_URL. `env` points an app at it.
 */
export interface PersistentStorage {
  env: Record<string, string>;
  dispose: () => Promise<void>;
}

export async function persistentStorage(): Promise<PersistentStorage> {
  if (process.env.DATABASE_URL) {
    const db = await freshServerDatabase(process.env.DATABASE_URL);
    return { env: { DATABASE_URL: db.url }, dispose: db.drop };
  }
  const dir = await mkdtemp(join(tmpdir(), 'mcp-platform-e2e-'));
  return {
    env: { DATA_DIR: dir },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
