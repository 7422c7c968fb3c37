import { Module } from '@nestjs/common';
import { AuditModule } from '@app/audit';
import { AuthModule } from '@app/auth';
import { TenancyModule } from '@app/tenancy';
import { SourcesModule } from '@app/sources';
import { ToolsModule } from '@app/tools';
import { AdminAudit } from './admin-audit';
import { AuditController } from './audit.controller';
import { PromptsController, ResourcesController } from './capabilities.controller';
import { KeysController } from './keys.controller';
import { SourcesController } from './sources.controller';
import { TenantAuthController } from './tenant-auth.controller';
import { TenantsController } from './tenants.controller';
import { ToolsController } from './tools.controller';

@Module({
  imports: [AuthModule, TenancyModule, ToolsModule, SourcesModule, AuditModule],
  controllers: [
    TenantsController,
    KeysController,
    ToolsController,
    ResourcesController,
    PromptsController,
    SourcesController,
    TenantAuthController,
    AuditController,
  ],
  providers: [AdminAudit],
})
export class AdminModule {}
