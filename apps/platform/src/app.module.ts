import { DynamicModule, Module } from '@nestjs/common';
import { AdminModule } from '@app/admin';
import { AuthModule } from '@app/auth';
import { ConfigModule, PlatformConfig } from '@app/config';
import { ConsoleModule } from '@app/console';
import { McpModule } from '@app/mcp';
import { ObservabilityModule } from '@app/observability';
import { OpsModule } from '@app/ops';
import { SourcesModule } from '@app/sources';
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
        AuthModule,
        AdminModule,
        McpModule,
        SourcesModule,
        OpsModule,
        ConsoleModule,
      ],
      providers: [ShutdownCoordinator, InFlight],
    };
  }
}
