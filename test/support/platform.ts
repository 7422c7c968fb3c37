import { randomBytes } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from 'pg';
import request from 'supertest';
import { loadConfig, PlatformConfig } from '@app/config';
import { EmbeddedPostgres } from '@app/database';
import { createPlatformApp } from '../../apps/platform/src/bootstrap';
import { freePort } from './proc-net';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijkl';
export const ADMIN = { Authorization: `Bearer ${ADMIN_TOKEN}` };

export interface TestPlatform {
  app: NestExpressApplication;
  config: PlatformConfig;
  url: string;
  http: () => ReturnType<typeof request>;
  close: () => Promise<void>;
}

/** A fresh database on the server named by DATABASE_URL, dropped again by the returned function. */
export async function freshServerDatabase(
  serverUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `mcp_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
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
 * database on the Postgres server in DATABASE_URL. Listening on a loopback port.
 */
export async function startPlatform(env: Record<string, string> = {}): Promise<TestPlatform> {
  if (!process.env.DATABASE_URL) await useMemoryTemplate();
  const server = process.env.DATABASE_URL
    ? await freshServerDatabase(process.env.DATABASE_URL)
    : undefined;
  return launchPlatform({ ...(server ? { DATABASE_URL: server.url } : {}), ...env }, server?.drop);
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
): Promise<TestPlatform> {
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
    // suite turns these back on.
    AUTH_FAILURES_PER_MINUTE: '0',
    ADMIN_AUTH_FAILURES_PER_MINUTE: '0',
    RATE_LIMIT_KEY_PER_MINUTE: '0',
    RATE_LIMIT_TENANT_PER_MINUTE: '0',
    ...env,
  });
  const app = await createPlatformApp(config, { forceCloseConnections: true });
  await app.listen(config.port, config.host);
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    config,
    url,
    http: () => request(url),
    close: async () => {
      await app.close();
      await dispose?.();
    },
  };
}

let counter = 0;
/** A slug no other test in this run uses. */
export function uniqueSlug(prefix = 't'): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}
