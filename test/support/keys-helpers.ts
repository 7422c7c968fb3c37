import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { loadConfig } from '@app/config';
import { createPlatformApp } from '../../apps/platform/src/bootstrap';
import { ADMIN, ADMIN_TOKEN, freshServerDatabase, TestPlatform, uniqueSlug } from './platform';

/** The JSON of an API key as the admin API returns it (with `secret` only on create and rotate). */
export interface KeyBody {
  id: string;
  tenant: string;
  name: string;
  prefix: string;
  scopes: string[];
  tools: string[] | null;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  rotatedAt: string | null;
  previousSecretValidUntil: string | null;
  createdAt: string;
  secret?: string;
}

/** Creates a tenant as the platform admin and returns its slug. */
export async function createTenant(p: TestPlatform, prefix = 'k'): Promise<string> {
  const slug = uniqueSlug(prefix);
  await p
    .http()
    .post('/admin/tenants')
    .set(ADMIN)
    .send({ slug, name: `Tenant ${slug}` })
    .expect(201);
  return slug;
}

/** Creates a key as the platform admin; the body defaults to a plain key without scopes. */
export async function createKey(
  p: TestPlatform,
  slug: string,
  body: Record<string, unknown> = {},
): Promise<KeyBody & { secret: string }> {
  const res = await p
    .http()
    .post(`/admin/tenants/${slug}/keys`)
    .set(ADMIN)
    .send({ name: 'key', scopes: [], ...body });
  if (res.status !== 201) {
    throw new Error(`creating a key failed: ${res.status} ${res.text}`);
  }
  return res.body as KeyBody & { secret: string };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
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

/**
 * The real application on the given storage; closing it leaves the storage as it is, so another
 * instance can start on it. `ADMIN_TOKEN: ''` in env starts it without an admin token.
 */
export async function startOn(env: Record<string, string>): Promise<TestPlatform> {
  const port = await freePort();
  const config = loadConfig({
    ADMIN_TOKEN,
    DATA_DIR: 'memory://',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: String(port),
    ...env,
  });
  const app: NestExpressApplication = await createPlatformApp(config);
  await app.listen(config.port, config.host);
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    config,
    url,
    http: () => request(url),
    close: () => app.close(),
  };
}
