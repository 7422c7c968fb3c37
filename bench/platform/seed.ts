import 'source-map-support/register';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigModule, loadConfig, PlatformConfig } from '@app/config';
import { DatabaseModule } from '@app/database';
import { ApiKeysService, TenancyModule, TenantsService } from '@app/tenancy';
import type { SeedRequest, SeedResult } from '../src/seed-protocol';

@Module({})
class SeedModule {
  static forRoot(config: PlatformConfig): DynamicModule {
    return {
      module: SeedModule,
      imports: [ConfigModule.forRoot(config), DatabaseModule, TenancyModule],
    };
  }
}

/**
 * `node seed.js '<SeedRequest as JSON>'`: creates tenants and API keys for the bench through the
 * platform's own TenantsService and ApiKeysService (migrations, entities, key codec and change
 * notifications as in the product), on the database the environment names (DATA_DIR or
 * DATABASE_URL, as for the platform itself). The bench runs it while the platform is stopped on
 * the embedded database, which serves one process only; with DATABASE_URL the platform keeps
 * running and learns the new tenants from the change feed.
 */
async function seed(request: SeedRequest): Promise<void> {
  const app = await NestFactory.createApplicationContext(SeedModule.forRoot(loadConfig()), {
    logger: ['error', 'warn'],
  });
  try {
    const tenantsService = app.get(TenantsService);
    const keysService = app.get(ApiKeysService);
    const tenants: SeedResult['tenants'] = new Array(request.count);
    let next = 0;
    let done = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (next < request.count) {
        const i = next++;
        const slug = `${request.slugPrefix}${i}`;
        const tenant = await tenantsService.create({ slug, name: `Bench ${slug}` });
        const keys: string[] = [];
        for (let k = 0; k < request.keysPerTenant; k++) {
          const issued = await keysService.create(tenant.id, {
            name: `bench ${k}`,
            scopes: request.scopes,
          });
          keys.push(issued.token);
        }
        tenants[i] = { slug, keys };
        if (++done % 1000 === 0)
          process.stderr.write(`  ${done}/${request.count} tenants created\n`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, worker));
    const result: SeedResult = { tenants, seconds: (performance.now() - t0) / 1000 };
    writeFileSync(request.out, JSON.stringify(result));
  } finally {
    await app.close();
  }
}

seed(JSON.parse(process.argv[2] ?? '') as SeedRequest).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `seed failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
