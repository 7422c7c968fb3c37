import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { PlatformConfig } from '@app/config';
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
import { WellKnownController } from './well-known.controller';

@Module({
  controllers: [McpController, WellKnownController],
  providers: [
    McpServerFactory,
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
  exports: [SessionStore],
})
export class McpModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(OriginGuardMiddleware).forRoutes(McpController);
  }
}
