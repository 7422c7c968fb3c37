import { Module } from '@nestjs/common';
import { AdminAudit } from './admin-audit';
import { AuditController } from './audit.controller';
import { KeysController } from './keys.controller';
import { TenantAuthController } from './tenant-auth.controller';
import { TenantsController } from './tenants.controller';
import { ToolsController } from './tools.controller';

@Module({
  controllers: [
    TenantsController,
    KeysController,
    ToolsController,
    TenantAuthController,
    AuditController,
  ],
  providers: [AdminAudit],
})
export class AdminModule {}
