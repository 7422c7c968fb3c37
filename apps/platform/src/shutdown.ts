import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { PlatformConfig } from '@app/config';
import { ModernStrategy, SessionStore } from '@app/mcp';
import { InFlight } from './in-flight';

/**
 * Graceful shutdown of the HTTP side, in order: stop accepting connections, let in-flight requests
 * finish within SHUTDOWN_TIMEOUT, then end MCP sessions and listen streams (they would otherwise
 * hold the server open). Each module then drains what it owns in its own shutdown hooks (the audit log, key
 * usage, the database): Nest calls them after this one, since this module imports theirs, and
 * dependents before their dependencies.
 */
@Injectable()
export class ShutdownCoordinator implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');

  constructor(
    private readonly http: HttpAdapterHost,
    private readonly sessions: SessionStore,
    private readonly modern: ModernStrategy,
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
    // which ends their event streams, and the 2026-07-28 listen streams (a graceful last result).
    const started = Date.now();
    await this.inFlight.idle(this.config.shutdownTimeoutMs);
    await Promise.all([this.sessions.closeAll(), this.modern.closeAll()]);
    const left = Math.max(0, this.config.shutdownTimeoutMs - (Date.now() - started));
    const timer = setTimeout(() => {
      this.logger.warn(
        `requests still running after ${this.config.shutdownTimeoutMs} ms; closing them`,
      );
      server?.closeAllConnections();
    }, left);
    await closed;
    clearTimeout(timer);
  }
}
