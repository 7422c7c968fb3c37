import { Module } from '@nestjs/common';
import { KeysController } from './keys.controller';
import { TenantsController } from './tenants.controller';
import { ToolsController } from './tools.controller';

@Module({ controllers: [TenantsController, KeysController, ToolsController] })
export class AdminModule {}
