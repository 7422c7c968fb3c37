import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { AuditModule } from '@app/audit';
import { PlatformConfig } from '@app/config';
import { ObservabilityModule } from '@app/observability';
import { TenancyModule } from '@app/tenancy';
import { ToolsModule } from '@app/tools';
import { EraRouter } from './eras/era-router';
import { LegacyPrecheck } from './eras/legacy-precheck';
import { CapabilitySurface } from './capability-surface';
import { RequestStateSealer } from './request-state';
import { ResourceSubscriptions } from './resource-subscriptions';
import { ModernStrategy } from './eras/modern.strategy';
import { SseStrategy } from './eras/sse.strategy';
import { StreamableStrategy } from './eras/streamable.strategy';
import { McpBodies } from './mcp-exchange';
import { McpServerFactory } from './mcp-server.factory';
import { McpController } from './mcp.controller';
import { OriginGuardMiddleware } from './origin-guard.middleware';
import {
  LocalSessionDirectory,
  RedisSessionDirectory,
  SessionDirectory,
} from './session-directory';
import { SessionStore } from './session-store';
import { SharedServers } from './shared-servers';
import { ToolCallRecorder } from './tool-call-recorder';
import { ToolSurface } from './tool-surface';
import { WellKnownController } from './well-known.controller';

@Module({
  imports: [TenancyModule, ToolsModule, AuditModule, ObservabilityModule],
  controllers: [McpController, WellKnownController],
  providers: [
    McpServerFactory,
    ToolSurface,
    CapabilitySurface,
    RequestStateSealer,
    ResourceSubscriptions,
    McpBodies,
    LegacyPrecheck,
    ModernStrategy,
    StreamableStrategy,
    SseStrategy,
    EraRouter,
    SessionStore,
    SharedServers,
    ToolCallRecorder,
    {
      provide: SessionDirectory,
      inject: [PlatformConfig],
      useFactory: (config: PlatformConfig) =>
        config.redisUrl
          ? new RedisSessionDirectory(config.redisUrl, config.sessionIdleTtlMs)
          : new LocalSessionDirectory(),
    },
  ],
  exports: [SessionStore, ModernStrategy],
})
export class McpModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(OriginGuardMiddleware).forRoutes(McpController);
  }
}
