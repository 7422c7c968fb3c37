import 'source-map-support/register';
import { Logger } from '@nestjs/common';
import { issueAdminToken, printAdminToken } from '@app/auth';
import { ConfigError, loadConfig, PlatformConfig } from '@app/config';
import { DatabaseTarget, runMigrations, withDataSource } from '@app/database';
import { PlatformSetting } from '@app/tenancy';
import { createPlatformApp } from './bootstrap';

function readConfig(): PlatformConfig {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

async function main(argv: string[]): Promise<void> {
  const config = readConfig();
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
  const app = await createPlatformApp(config);
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
    new Logger('Database').error(`the embedded database process exited (${how}); stopping`);
    stop(1);
  });
  await app.listen(config.port, config.host);
  new Logger('Platform').log(
    `serving on http://${config.host}:${config.port} (public URL ${config.publicUrl}, ` +
      `${config.mcpStateless ? 'stateless' : 'stateful'} MCP)`,
  );
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
