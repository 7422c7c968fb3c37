import { Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PlatformConfig } from '@app/config';
import { DatabaseHealth } from './database-health';
import { dataSourceOptions, runMigrations } from './data-source';
import { EmbeddedPostgres } from './embedded-postgres';
import { redactDatabaseUrl } from './redact-url';

/** Where the platform's Postgres is: a real server, or the embedded one this process runs. */
export class DatabaseTarget {
  constructor(
    readonly url: string,
    readonly embedded: EmbeddedPostgres | undefined,
  ) {}

  describe(): string {
    return this.embedded
      ? `embedded PGlite (${this.embedded.location}, unix socket in ${this.embedded.socketDir})`
      : `postgres server ${redactDatabaseUrl(this.url)}`;
  }
}

class EmbeddedShutdown implements OnApplicationShutdown {
  constructor(
    @Inject(DatabaseTarget) private readonly target: DatabaseTarget,
    @Inject(DataSource) private readonly dataSource: DataSource,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (!this.target.embedded) return;
    // The pool must be closed before the embedded server under it goes away.
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.target.embedded.stop();
  }
}

@Module({
  providers: [
    {
      provide: DatabaseTarget,
      inject: [PlatformConfig],
      useFactory: async (config: PlatformConfig) => {
        if (config.databaseUrl) return new DatabaseTarget(config.databaseUrl, undefined);
        const embedded = await EmbeddedPostgres.start(config.dataDir);
        return new DatabaseTarget(embedded.url, embedded);
      },
    },
  ],
  exports: [DatabaseTarget],
})
class DatabaseTargetModule {}

@Module({
  imports: [
    DatabaseTargetModule,
    TypeOrmModule.forRootAsync({
      imports: [DatabaseTargetModule],
      inject: [DatabaseTarget, PlatformConfig],
      useFactory: (target: DatabaseTarget, config: PlatformConfig) => ({
        ...dataSourceOptions(target.url, !!target.embedded, config.databaseQueryTimeoutMs),
        embedded: !!target.embedded,
        autoLoadEntities: true,
        retryAttempts: 3,
        retryDelay: 1000,
      }),
      dataSourceFactory: async (options) => {
        const ds = await new DataSource(options!).initialize();
        // The factory cannot be injected with DatabaseTarget; the options carry it.
        const embedded = (options as { embedded?: boolean }).embedded === true;
        const ran = await runMigrations(ds, embedded);
        if (ran.length) new Logger('Database').log(`applied migrations: ${ran.join(', ')}`);
        return ds;
      },
    }),
  ],
  providers: [
    EmbeddedShutdown,
    {
      provide: DatabaseHealth,
      inject: [DataSource],
      useFactory: (ds: DataSource) => new DatabaseHealth(() => ds.query('SELECT 1')),
    },
  ],
  exports: [DatabaseTargetModule, DatabaseHealth],
})
export class DatabaseModule {
  constructor(@Inject(DatabaseTarget) target: DatabaseTarget) {
    new Logger('Database').log(`using ${target.describe()}`);
  }
}
