import { DynamicModule, Module } from '@nestjs/common';
import { AdminModule } from '@app/admin';
import { AuthModule } from '@app/auth';
import { ConfigModule, PlatformConfig } from '@app/config';
import { DatabaseModule } from '@app/database';
import { McpModule } from '@app/mcp';
import { ObservabilityModule } from '@app/observability';
import { TenancyModule } from '@app/tenancy';
import { ToolsModule } from '@app/tools';

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
        AuthModule,
        ToolsModule,
        AdminModule,
        McpModule,
      ],
    };
  }
}
