import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, freshServerDatabase, launchPlatform, TestPlatform, uniqueSlug } from './platform';

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
export function startOn(env: Record<string, string>): Promise<TestPlatform> {
  return launchPlatform(env);
}
