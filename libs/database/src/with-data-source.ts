import { DataSource, EntitySchema } from 'typeorm';
import type { PlatformConfig } from '@app/config';
import { dataSourceOptions } from './data-source';
import { EmbeddedPostgres } from './embedded-postgres';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type EntityTarget = Function | EntitySchema;

/** A short-lived connection for command-line tasks (migrations, token rotation). */
export async function withDataSource<T>(
  config: PlatformConfig,
  entities: EntityTarget[],
  work: (ds: DataSource) => Promise<T>,
): Promise<T> {
  const embedded = config.databaseUrl ? undefined : await EmbeddedPostgres.start(config.dataDir);
  const url = config.databaseUrl ?? embedded!.url;
  const ds = new DataSource({
    ...dataSourceOptions(url, !!embedded, config.databaseQueryTimeoutMs),
    entities,
  });
  try {
    await ds.initialize();
    return await work(ds);
  } finally {
    if (ds.isInitialized) await ds.destroy();
    await embedded?.stop();
  }
}
