import type { Server } from 'node:http';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { PlatformConfig } from '@app/config';
import { requestIdMiddleware } from '@app/observability';
import { AppModule } from './app.module';
import { InFlight } from './in-flight';
import { mountOpenApi } from './openapi';

/** Builds the configured application without listening; main.ts and the e2e tests share it. */
export async function createPlatformApp(
  config: PlatformConfig,
  options: { forceCloseConnections?: boolean } = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bufferLogs: true,
    bodyParser: false,
    abortOnError: false,
    forceCloseConnections: options.forceCloseConnections ?? false,
  });
  app.useLogger(app.get(Logger));
  app.use(requestIdMiddleware);
  app.use(app.get(InFlight).middleware);
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  // Bodies are parsed after authentication (JsonBodyInterceptor, McpController), not here.
  const server: Server = app.getHttpServer();
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  mountOpenApi(app);
  return app;
}
