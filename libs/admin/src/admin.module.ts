import { Module } from '@nestjs/common';
import { KeysController } from './keys.controller';
import { TenantsController } from './tenants.controller';

@Module({ controllers: [TenantsController, KeysController] })
export class AdminModule {}
