import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { AuditWriter } from '@app/audit';
import { PlatformConfig } from '@app/config';
import { SessionStore } from '@app/mcp';
import { KeyUsageRecorder } from '@app/tenancy';

/**
 * Graceful shutdown, in order: stop accepting connections, end MCP sessions (their streams would
 * otherwise hold the server open), let in-flight requests finish within SHUTDOWN_TIMEOUT, then
 * flush the audit log and key usage while the database is still there.
 */
@Injectable()
export class ShutdownCoordinator implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');

  constructor(
    private readonly http: HttpAdapterHost,
    private readonly sessions: SessionStore,
    private readonly audit: AuditWriter,
    private readonly usage: KeyUsageRecorder,
    private readonly config: PlatformConfig,
  ) {}

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    const server = this.http.httpAdapter?.getHttpServer() as Server | undefined;
    if (signal) this.logger.log(`${signal}: draining`);
    const closed = server?.listening
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    server?.closeIdleConnections();
    await this.sessions.closeAll();
    const timer = setTimeout(() => {
      this.logger.warn(
        `requests still running after ${this.config.shutdownTimeoutMs} ms; closing them`,
      );
      server?.closeAllConnections();
    }, this.config.shutdownTimeoutMs);
    await closed;
    clearTimeout(timer);
    await this.audit.flush();
    await this.usage.flush();
  }
}
