import { Injectable, Logger, OnModuleInit, BeforeApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { storableJson, storableText, UUID_PATTERN } from '@app/database';
import { Metrics } from '@app/observability';
import type { AuditRecord } from './audit.types';

export const AUDIT_FLUSH_MS = 1_000;
export const AUDIT_BATCH = 500;
export const AUDIT_MAX_QUEUE = 50_000;

export interface AuditWriterStats {
  queued: number;
  written: number;
  dropped: number;
}

/**
 * Queues audit records and writes them in multi-row batches off the request path. While the
 * database is unreachable records are held (up to AUDIT_MAX_QUEUE; beyond that the oldest are
 * dropped and counted) and written once it is back. A graceful shutdown flushes the queue.
 */
@Injectable()
export class AuditWriter implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(AuditWriter.name);
  private queue: AuditRecord[] = [];
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private failures = 0;
  private nextAttemptAt = 0;
  readonly stats: AuditWriterStats = { queued: 0, written: 0, dropped: 0 };

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), AUDIT_FLUSH_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.nextAttemptAt = 0;
    await this.flush();
  }

  record(event: AuditRecord): void {
    // Whatever a client sent ends up here (refusal reasons quote it); make it storable now, so
    // one hostile string cannot poison a batch.
    this.queue.push({
      ...event,
      actorId: storableText(event.actorId),
      tool: event.tool === undefined ? undefined : storableText(event.tool),
      requestId: event.requestId === undefined ? undefined : storableText(event.requestId),
      detail: event.detail ? (storableJson(event.detail) as Record<string, unknown>) : undefined,
      at: event.at ?? new Date(),
    });
    if (this.queue.length > AUDIT_MAX_QUEUE) {
      const excess = this.queue.length - AUDIT_MAX_QUEUE;
      this.queue.splice(0, excess);
      this.stats.dropped += excess;
      this.metrics.auditDropped.inc(excess);
    }
    this.stats.queued = this.queue.length;
    this.metrics.auditQueueDepth.set(this.queue.length);
    if (this.queue.length >= AUDIT_BATCH) void this.flush();
  }

  get depth(): number {
    return this.queue.length;
  }

  /** Writes everything queued so far (in batches); resolves when done or the database failed. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.queue.length && this.db.isInitialized && Date.now() >= this.nextAttemptAt) {
      const batch = this.queue.slice(0, AUDIT_BATCH);
      try {
        await this.insert(batch);
        this.queue.splice(0, batch.length);
        this.stats.written += batch.length;
        this.stats.queued = this.queue.length;
        this.metrics.auditWritten.inc(batch.length);
        this.metrics.auditQueueDepth.set(this.queue.length);
        if (this.failures)
          this.logger.log(`audit log writable again; ${this.queue.length} events still queued`);
        this.failures = 0;
      } catch (err) {
        if (isDataError(err)) {
          // The database is fine but a row is not: write the rest one by one, drop the bad ones.
          await this.insertEach(batch);
          continue;
        }
        this.failures += 1;
        // Back off up to 10 s between attempts while the database is away.
        this.nextAttemptAt = Date.now() + Math.min(10_000, 250 * 2 ** Math.min(this.failures, 6));
        if (this.failures === 1 || this.failures % 20 === 0) {
          this.logger.warn(
            `audit write failed (${(err as Error).message}); holding ${this.queue.length} events`,
          );
        }
        return;
      }
    }
  }

  private async insertEach(batch: AuditRecord[]): Promise<void> {
    let dropped = 0;
    for (const event of batch) {
      try {
        await this.insert([event]);
        this.stats.written += 1;
        this.metrics.auditWritten.inc();
      } catch (err) {
        if (!isDataError(err)) return; // the database went away: keep the rest queued
        dropped += 1;
        this.logger.error(
          `audit event ${event.action} could not be stored: ${(err as Error).message}`,
        );
      }
    }
    this.queue.splice(0, batch.length);
    this.stats.dropped += dropped;
    this.metrics.auditDropped.inc(dropped);
    this.stats.queued = this.queue.length;
    this.metrics.auditQueueDepth.set(this.queue.length);
  }

  /**
   * One statement per batch with eleven array parameters (not eleven per row): parse and bind
   * cost stay flat however large the batch, which matters most on the in-process database.
   */
  private async insert(batch: AuditRecord[]): Promise<void> {
    const col = <T>(pick: (e: AuditRecord) => T) => batch.map(pick);
    // Events of a tenant deleted meanwhile would violate the foreign key; they go with the tenant.
    await this.db.query(
      `INSERT INTO audit_events
         (tenant_id, at, actor_kind, actor_id, action, tool, key_id, outcome, duration_ms, request_id, detail)
       SELECT v.* FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
                             $7::uuid[], $8::text[], $9::int[], $10::text[], $11::jsonb[])
         AS v(tenant_id, at, actor_kind, actor_id, action, tool, key_id, outcome, duration_ms, request_id, detail)
        WHERE v.tenant_id IS NULL OR EXISTS (SELECT 1 FROM tenants t WHERE t.id = v.tenant_id)`,
      [
        col((e) => e.tenantId),
        col((e) => (e.at ?? new Date()).toISOString()),
        col((e) => e.actorKind.slice(0, 16)),
        col((e) => e.actorId.slice(0, 300)),
        col((e) => e.action.slice(0, 64)),
        col((e) => e.tool?.slice(0, 64) ?? null),
        col((e) => (e.keyId && UUID_PATTERN.test(e.keyId) ? e.keyId : null)),
        col((e) => e.outcome ?? null),
        col((e) => (e.durationMs === undefined ? null : Math.round(e.durationMs))),
        col((e) => e.requestId?.slice(0, 64) ?? null),
        col((e) => JSON.stringify(e.detail ?? {})),
      ],
    );
  }
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity): the row is at fault, not the server. */
function isDataError(err: unknown): boolean {
  const code =
    (err as { driverError?: { code?: string }; code?: string }).driverError?.code ??
    (err as { code?: string }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}
