import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeysService } from './api-keys.service';
import { ChangeFeed } from './change-feed';
import { KeyUsageRecorder } from './key-usage.recorder';
import { ApiKey, PlatformSetting, Tenant, ToolGrant } from './entities';
import { TenantsService } from './tenants.service';
import { ToolGrantsService } from './tool-grants.service';

@Global()
@Module({
  imports: [TypeOrmModule.forFeature([Tenant, ApiKey, ToolGrant, PlatformSetting])],
  providers: [TenantsService, ApiKeysService, ToolGrantsService, ChangeFeed, KeyUsageRecorder],
  exports: [
    TenantsService,
    ApiKeysService,
    ToolGrantsService,
    ChangeFeed,
    KeyUsageRecorder,
    TypeOrmModule,
  ],
})
export class TenancyModule {}
