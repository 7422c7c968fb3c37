import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { McpServerFactory } from './mcp-server.factory';
import { McpController } from './mcp.controller';
import { OriginGuardMiddleware } from './origin-guard.middleware';
import { SessionStore } from './session-store';
import { SharedServers } from './shared-servers';
import { ToolCallRecorder } from './tool-call-recorder';
import { WellKnownController } from './well-known.controller';

@Module({
  controllers: [McpController, WellKnownController],
  providers: [McpServerFactory, SessionStore, SharedServers, ToolCallRecorder],
  exports: [SessionStore],
})
export class McpModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(OriginGuardMiddleware).forRoutes(McpController);
  }
}
