import { Module } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PlatformConfig } from '@app/config';
import { DatabaseModule, DatabaseTarget } from '@app/database';
import { ApiKeysService } from './api-keys.service';
import { CHANGE_CHANNEL, ChangeBus, PgChangeBus, RedisChangeBus } from './change-bus';
import { CHANGE_BUS, ChangeFeed } from './change-feed';
import { ApiKey, PlatformSetting, Tenant, ToolGrant } from './entities';
import { KeyUsageRecorder } from './key-usage.recorder';
import { PlatformSecrets } from './platform-secrets';
import { TenantsService } from './tenants.service';
import { ToolGrantsService } from './tool-grants.service';

/** Redis pub/sub when configured, else Postgres NOTIFY; none for the single-process embedded database. */
function changeBus(
  config: PlatformConfig,
  target: DatabaseTarget,
  db: DataSource,
): ChangeBus | null {
  if (config.redisUrl) return new RedisChangeBus(config.redisUrl);
  if (target.embedded) return null;
  return new PgChangeBus(target.url, (payload) =>
    db.query(`SELECT pg_notify('${CHANGE_CHANNEL}', $1)`, [payload]),
  );
}

@Module({
  imports: [DatabaseModule, TypeOrmModule.forFeature([Tenant, ApiKey, ToolGrant, PlatformSetting])],
  providers: [
    {
      provide: CHANGE_BUS,
      inject: [PlatformConfig, DatabaseTarget, getDataSourceToken()],
      useFactory: changeBus,
    },
    TenantsService,
    ApiKeysService,
    ToolGrantsService,
    ChangeFeed,
    KeyUsageRecorder,
    PlatformSecrets,
  ],
  exports: [
    TenantsService,
    ApiKeysService,
    ToolGrantsService,
    ChangeFeed,
    KeyUsageRecorder,
    PlatformSecrets,
    TypeOrmModule,
  ],
})
export class TenancyModule {}
