import { Module } from '@nestjs/common';
import { KeysController } from './keys.controller';
import { TenantAuthController } from './tenant-auth.controller';
import { TenantsController } from './tenants.controller';
import { ToolsController } from './tools.controller';

@Module({ controllers: [TenantsController, KeysController, ToolsController, TenantAuthController] })
export class AdminModule {}
