import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type autocannon from 'autocannon';
import type { BenchContext } from '../context';
import { lifecycle } from '../lifecycle';
import { firstError, isToolList, LIST_BODY, load, type LoadResult } from '../load';
import { createKey, createTenant } from '../mcp-client';
import { readJson, restartPlatform, runToCompletion, type Platform } from '../processes';
import type { SeedRequest, SeedResult } from '../seed-protocol';
import { errorMessage, log, round, sleep } from '../util';

const KEYS_PER_TENANT = 10;

interface Failed {
  error: string;
}

interface Creation {
  via: string;
  seconds: number | null;
  tenantsPerSecond: number | null;
  restartSeconds?: number | null;
}

export interface AuthResult {
  request: string;
  keysPerTenant: number;
  tenantsAdded: number;
  oneTenant?: LoadResult | Failed;
  creation?: Creation | Failed;
  manyTenantsSameKeys?: LoadResult | Failed;
  manyTenantsRandomKeys?: LoadResult | Failed;
  /** The stage that failed; the ones after it did not run. */
  failed?: string;
  p99Ratio?: number | null;
  p99RatioRandom?: number | null;
}

type Stage = 'oneTenant' | 'creation' | 'manyTenantsSameKeys' | 'manyTenantsRandomKeys';

interface ManyTenants {
  tenants: SeedResult['tenants'];
  seconds: number;
  restartSeconds?: number;
  via: string;
}

/**
 * The bench platform's seeder (bench/platform/seed.ts) in a process of its own, on `platform`'s
 * storage: `count` tenants × KEYS_PER_TENANT keys (scope math:use) created through the platform's
 * own TenantsService and ApiKeysService.
 */
async function seed(ctx: BenchContext, platform: Platform, count: number): Promise<SeedResult> {
  const dir = lifecycle.makeTempDir('mcp-bench-seed-');
  try {
    const request: SeedRequest = {
      count,
      slugPrefix: `b${ctx.runId}-many-`,
      keysPerTenant: KEYS_PER_TENANT,
      scopes: ['math:use'],
      // The embedded database has one connection; a server's pool has ten.
      concurrency: platform.storage.databaseUrl ? 10 : 1,
      out: join(dir, 'seeded.json'),
    };
    const env: NodeJS.ProcessEnv = { ...process.env, ...platform.storage.env, LOG_LEVEL: 'warn' };
    delete env.LOG_FILE;
    if (!platform.storage.databaseUrl) delete env.DATABASE_URL;
    await runToCompletion('seeder', ctx.app.seed, [JSON.stringify(request)], env);
    return readJson<SeedResult>(request.out);
  } finally {
    lifecycle.removeTempDir(dir);
  }
}

/**
 * N tenants × KEYS_PER_TENANT keys, created by the seeder. With DATABASE_URL the platform keeps
 * running (it learns the new tenants from the change feed); on the embedded database only one
 * process may have its DATA_DIR open, so the platform is stopped, the seeder opens the database,
 * and the platform is started again on it (`platform` is updated in place, see restartPlatform).
 * `seconds` is the creation alone.
 */
async function createManyTenants(
  ctx: BenchContext,
  platform: Platform,
  count: number,
): Promise<ManyTenants> {
  if (count === 0) return { tenants: [], seconds: 0, via: 'none' };
  const via = "the platform's TenantsService and ApiKeysService";
  if (platform.storage.databaseUrl) {
    const made = await seed(ctx, platform, count);
    return { ...made, via: `${via} (DATABASE_URL)` };
  }
  const t0 = performance.now();
  const made = await restartPlatform(ctx, platform, () => {
    log('  platform stopped; the seeder opens the embedded database');
    return seed(ctx, platform, count);
  });
  return {
    ...made,
    restartSeconds: (performance.now() - t0) / 1000 - made.seconds,
    via: `${via} on the embedded database (platform restarted)`,
  };
}

/**
 * API-key verification under load: `tools/list` on the stateless platform, cycling through the
 * 10 keys of one tenant; again after many more tenants exist; and spread over random keys of
 * random tenants (which defeats the key and tenant caches). On the embedded database creating the
 * tenants restarts the platform (same `platform` object, new process and port).
 */
export async function measureAuth(ctx: BenchContext, platform: Platform): Promise<AuthResult> {
  const { config } = ctx;
  const res: AuthResult = {
    request: 'tools/list (stateless), keys cycled per request',
    keysPerTenant: KEYS_PER_TENANT,
    tenantsAdded: 0,
  };
  /** One stage; on failure the stages so far are kept and the rest are skipped. */
  const stage = async <S extends Stage>(name: S, fn: () => Promise<NonNullable<AuthResult[S]>>) => {
    if (res.failed) return;
    try {
      res[name] = await fn();
    } catch (err) {
      const died = platform.died();
      const error = died ? `${died}: ${errorMessage(err)}` : errorMessage(err);
      res[name] = { error };
      res.failed = name;
      log(`auth stage "${name}" failed: ${error}`);
    }
  };

  const slug = `b${ctx.runId}-auth`;
  await createTenant(platform, slug);
  const keys: string[] = [];
  for (let k = 0; k < KEYS_PER_TENANT; k++) {
    keys.push(await createKey(platform, slug, ['math:use'], `auth ${k}`));
  }
  const tenKeys = keys.map((key) => ({ headers: { authorization: `Bearer ${key}` } }));
  const drive = async (label: string, requests: autocannon.Request[]) => {
    // Read when driven: on the embedded database the platform has a new port after the creation.
    const url = `${platform.url}/t/${slug}/mcp`;
    const spec = {
      url,
      body: LIST_BODY,
      requests,
      check: isToolList,
      connections: config.connections,
    };
    if (config.warmup > 0) await load({ ...spec, duration: config.warmup });
    const r = await load({ ...spec, duration: config.duration });
    log(
      `auth ${label}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}`,
    );
    if (r.errors) log(`  first error: ${firstError(r)}`);
    return r;
  };

  await stage('oneTenant', () => drive(`1 tenant × ${KEYS_PER_TENANT} keys`, tenKeys));

  let many: ManyTenants | undefined;
  await stage('creation', async () => {
    log(
      `creating ${config.tenants} more tenants × ${KEYS_PER_TENANT} keys through the platform's services…`,
    );
    const made = await createManyTenants(ctx, platform, config.tenants);
    many = made;
    res.tenantsAdded = made.tenants.length;
    log(`  created ${made.tenants.length} tenants in ${made.seconds.toFixed(1)} s via ${made.via}`);
    // Let the key-usage flush and any cache churn from the creation settle.
    await sleep(6000);
    return {
      via: made.via,
      seconds: round(made.seconds, 1),
      tenantsPerSecond: round(made.tenants.length / (made.seconds || 1), 1),
      ...(made.restartSeconds !== undefined
        ? { restartSeconds: round(made.restartSeconds, 1) }
        : {}),
    };
  });

  await stage('manyTenantsSameKeys', () =>
    drive(`${res.tenantsAdded + 1} tenants, same ${KEYS_PER_TENANT} keys`, tenKeys),
  );

  const all = many?.tenants ?? [];
  if (all.length) {
    await stage('manyTenantsRandomKeys', () => {
      const setupRequest = (req: autocannon.Request): autocannon.Request => {
        const t = all[Math.floor(Math.random() * all.length)];
        const key = t.keys[Math.floor(Math.random() * t.keys.length)];
        req.path = `/t/${t.slug}/mcp`;
        req.headers = { ...req.headers, authorization: `Bearer ${key}` };
        return req;
      };
      return drive(`random key of ${all.length} tenants`, [{ setupRequest }]);
    });
  }
  const p99 = (name: Stage) => {
    const r = res[name];
    return r && 'p99' in r ? r.p99 : NaN;
  };
  res.p99Ratio = round(p99('manyTenantsSameKeys') / p99('oneTenant'));
  res.p99RatioRandom = round(p99('manyTenantsRandomKeys') / p99('oneTenant'));
  return res;
}
