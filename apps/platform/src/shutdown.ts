import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { AuditWriter } from '@app/audit';
import { PlatformConfig } from '@app/config';
import { SessionStore } from '@app/mcp';
import { KeyUsageRecorder } from '@app/tenancy';
import { InFlight } from './in-flight';

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
    private readonly inFlight: InFlight,
  ) {}

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    const server = this.http.httpAdapter?.getHttpServer() as Server | undefined;
    if (signal) this.logger.log(`${signal}: draining`);
    const closed = server?.listening
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    server?.closeIdleConnections();
    // Ordinary requests first (those inside MCP sessions need their session), then the sessions,
    // which ends their event streams.
    const started = Date.now();
    await this.inFlight.idle(this.config.shutdownTimeoutMs);
    await this.sessions.closeAll();
    const left = Math.max(0, this.config.shutdownTimeoutMs - (Date.now() - started));
    const timer = setTimeout(() => {
      this.logger.warn(
        `requests still running after ${this.config.shutdownTimeoutMs} ms; closing them`,
      );
      server?.closeAllConnections();
    }, left);
    await closed;
    clearTimeout(timer);
    await this.audit.flush();
    await this.usage.flush();
  }
}
