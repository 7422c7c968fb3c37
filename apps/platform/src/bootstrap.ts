import type { Server } from 'node:http';
import { DynamicModule, Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { issueAdminToken, printAdminToken } from '@app/auth';
import { ConfigError, loadConfig, PlatformConfig } from '@app/config';
import { DatabaseTarget, runMigrations, withDataSource } from '@app/database';
import { requestIdMiddleware } from '@app/observability';
import { PlatformSetting } from '@app/tenancy';
import { AppModule } from './app.module';
import { InFlight } from './in-flight';
import { mountOpenApi } from './openapi';

export interface PlatformAppOptions {
  forceCloseConnections?: boolean;
  /** The root module: AppModule.forRoot(config) unless an app composes it (bench/platform). */
  module?: DynamicModule;
}

/** Builds the configured application without listening; main.ts and the e2e tests share it. */
export async function createPlatformApp(
  config: PlatformConfig,
  options: PlatformAppOptions = {},
): Promise<NestExpressApplication> {
  const root = options.module ?? AppModule.forRoot(config);
  const app = await NestFactory.create<NestExpressApplication>(root, {
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

async function run(
  rootModule: (config: PlatformConfig) => DynamicModule,
  argv: string[],
): Promise<void> {
  const config = loadConfig();
  if (argv.includes('--migrate-only')) {
    const ran = await withDataSource(config, [], (ds) => runMigrations(ds, !config.databaseUrl));
    process.stdout.write(ran.length ? `applied: ${ran.join(', ')}\n` : 'database is up to date\n');
    return;
  }
  if (argv.includes('--rotate-admin-token')) {
    if (config.adminToken) {
      throw new Error(
        'ADMIN_TOKEN is set, so the stored token is not used: change ADMIN_TOKEN instead',
      );
    }
    const token = await withDataSource(config, [PlatformSetting], async (ds) => {
      await runMigrations(ds, !config.databaseUrl);
      return issueAdminToken(ds.getRepository(PlatformSetting));
    });
    printAdminToken(token, 'The admin token was rotated; the old one no longer works. New token:');
    return;
  }
  const app = await createPlatformApp(config, { module: rootModule(config) });
  let stopping = false;
  const stop = (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    const deadline = setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 5_000);
    deadline.unref();
    app.close().then(
      () => process.exit(exitCode),
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  // Not enableShutdownHooks(): Nest re-raises the signal after closing, so the exit code would
  // say "killed" although the shutdown was clean.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => stop(0));
  // Without its database the process cannot do anything useful: stop and let the supervisor
  // restart the whole platform, database process included.
  app.get(DatabaseTarget).embedded?.onUnexpectedExit((how) => {
    new NestLogger('Database').error(`the embedded database process exited (${how}); stopping`);
    stop(1);
  });
  await app.listen(config.port, config.host);
  new NestLogger('Platform').log(
    `serving on http://${config.host}:${config.port} (public URL ${config.publicUrl}, ` +
      `${config.mcpStateless ? 'stateless' : 'stateful'} MCP); console at ${config.publicUrl}/console`,
  );
}

/**
 * The process entry of the platform and of any app that composes it (bench/platform passes
 * its own root module): `--migrate-only`, `--rotate-admin-token`, or serve until SIGTERM/SIGINT.
 * A bad configuration ends the process with one line per problem.
 */
export function bootstrap(
  rootModule: (config: PlatformConfig) => DynamicModule = (config) => AppModule.forRoot(config),
  argv: string[] = process.argv.slice(2),
): void {
  run(rootModule, argv).catch((err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
