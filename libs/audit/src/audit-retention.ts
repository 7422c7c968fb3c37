import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PlatformConfig } from '@app/config';

const PURGE_EVERY_MS = 60 * 60_000;

/** Deletes audit events older than AUDIT_RETENTION_DAYS, at start and then hourly. */
@Injectable()
export class AuditRetention implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(AuditRetention.name);
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly config: PlatformConfig,
  ) {}

  onApplicationBootstrap(): void {
    void this.purge();
    this.timer = setInterval(() => void this.purge(), PURGE_EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async purge(): Promise<number> {
    try {
      const [, affected] = await this.db.query<[unknown, number]>(
        `DELETE FROM audit_events WHERE at < now() - make_interval(days => $1)`,
        [this.config.auditRetentionDays],
      );
      if (affected)
        this.logger.log(
          `purged ${affected} audit events older than ${this.config.auditRetentionDays} days`,
        );
      return affected ?? 0;
    } catch (err) {
      this.logger.warn(`audit retention purge failed: ${(err as Error).message}`);
      return 0;
    }
  }
}
