import { DynamicModule, Module } from '@nestjs/common';
import { AdminModule } from '@app/admin';
import { AuditModule } from '@app/audit';
import { AuthModule } from '@app/auth';
import { ConfigModule, PlatformConfig } from '@app/config';
import { DatabaseModule } from '@app/database';
import { McpModule } from '@app/mcp';
import { ObservabilityModule } from '@app/observability';
import { RateLimitModule } from '@app/ratelimit';
import { TenancyModule } from '@app/tenancy';
import { ToolsModule } from '@app/tools';
import { PlatformAuthEvents } from './auth-events';
import { InFlight } from './in-flight';
import { ShutdownCoordinator } from './shutdown';

@Module({})
export class AppModule {
  static forRoot(config?: PlatformConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        ObservabilityModule,
        DatabaseModule,
        TenancyModule,
        AuditModule,
        RateLimitModule,
        AuthModule.forRoot({ events: PlatformAuthEvents }),
        ToolsModule,
        AdminModule,
        McpModule,
      ],
      providers: [ShutdownCoordinator, InFlight],
    };
  }
}
