import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Counter, Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { PlatformConfig } from '@app/config';
import { isDatabaseUnavailable, storableJson, storableText, UUID_PATTERN } from '@app/database';
import { Metrics } from '@app/observability';
import { newEventId, type QueuedRecord, reviveRecord } from './audit-record';
import { AuditSpill } from './audit-spill';
import type { AuditRecord } from './audit.types';

export const AUDIT_FLUSH_MS = 1_000;
export const AUDIT_BATCH = 500;
/** Without a spill directory (DATA_DIR=memory://, or one that cannot be used): held in memory. */
export const AUDIT_MAX_QUEUE = 50_000;
/** Every this many flush ticks the spill's lock is touched and dead writers' segments adopted. */
const MAINTAIN_EVERY = 10;
/** How long a graceful shutdown goes on draining the spill into a reachable database. */
const SHUTDOWN_DRAIN_MS = 1_000;
/** During a shutdown a write that has not answered by then is given up (the events spill). */
const SHUTDOWN_WRITE_TIMEOUT_MS = 1_000;
/** After the spill failed to take a write (disk full), events stay in memory this long. */
const SPILL_RETRY_MS = 5_000;

/** Overrides for tests; by default everything follows PlatformConfig. */
export interface AuditWriterOptions {
  /** null: no spill. */
  spillDir?: string | null;
  memoryQueue?: number;
  segmentBytes?: number;
  writeTimeoutMs?: number;
}
export const AUDIT_WRITER_OPTIONS = Symbol('AUDIT_WRITER_OPTIONS');

/**
 * Queues audit records and writes them in multi-row batches off the request path. Events that
 * cannot be written — the database is unreachable, a batch failed or timed out, or more than
 * AUDIT_MEMORY_QUEUE are waiting — are appended to a spill on disk (`<DATA_DIR>/audit-spill`),
 * bounded by the disk, and drained into the database once it takes writes again (leftovers of an
 * earlier process too). Every event carries an id made at enqueue time, stored under a unique
 * index and inserted with ON CONFLICT DO NOTHING, so a segment drained again after a crash
 * between "inserted" and "segment deleted" adds nothing. A graceful shutdown writes what is
 * queued to the database, or else to the spill.
 */
@Injectable()
export class AuditWriter implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(AuditWriter.name);
  private queue: QueuedRecord[] = [];
  private timer?: NodeJS.Timeout;
  private ticks = 0;
  private pumping?: Promise<void>;
  /** Callers waiting for the pump: while any is, it stops draining the spill. */
  private waiting = 0;
  private failures = 0;
  private nextAttemptAt = 0;
  private shuttingDown = false;
  private spill?: AuditSpill;
  private spillRetryAt = 0;
  private spillFailures = 0;
  /** Records handed to the spill whose append has not finished, and those appends. */
  private inTransit = 0;
  private readonly appends = new Set<Promise<void>>();
  /** The spill segment being drained, read into memory. */
  private draining?: { name: string; records: QueuedRecord[]; next: number };
  private readonly spillDir: string | null;
  private readonly memoryLimit: number;
  private readonly writeTimeoutMs: number;
  private readonly spilledTotal: Counter;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly metrics: Metrics,
    private readonly config: PlatformConfig,
    @Optional() @Inject(AUDIT_WRITER_OPTIONS) private readonly options: AuditWriterOptions = {},
  ) {
    this.spillDir =
      options.spillDir !== undefined
        ? options.spillDir
        : config.dataDir.startsWith('memory://')
          ? null
          : join(resolve(config.dataDir), 'audit-spill');
    this.memoryLimit = options.memoryQueue ?? config.auditMemoryQueue;
    // Just beyond the driver's own query timeout, which fires first where it is set; this one
    // also covers the wait for a pool connection.
    this.writeTimeoutMs = options.writeTimeoutMs ?? config.databaseQueryTimeoutMs + 1_000;
    // On the platform's registry, next to its other audit metrics.
    this.spilledTotal = new Counter({
      name: 'audit_events_spilled_total',
      help: 'Audit events written to the spill on disk because the database could not take them',
      registers: [metrics.registry],
    });
    const writer = () => this.spill;
    new Gauge({
      name: 'audit_spill_pending_bytes',
      help: 'Bytes of spilled audit events on disk not yet written to the database',
      registers: [metrics.registry],
      collect() {
        this.set(writer()?.pendingBytes ?? 0);
      },
    });
  }

  async onModuleInit(): Promise<void> {
    if (this.spillDir) await this.openSpill(this.spillDir);
    this.timer = setInterval(() => this.tick(), AUDIT_FLUSH_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.shuttingDown = true;
    this.nextAttemptAt = 0; // one last (short) attempt, even while backing off
    await this.flush();
    await this.exclusive(Date.now() + SHUTDOWN_DRAIN_MS);
  }

  /** After every other hook: what was recorded late goes to the database if it is still there, or to disk. */
  async onApplicationShutdown(): Promise<void> {
    await this.flush();
    await this.spill?.close().catch((err: Error) => {
      this.logger.error(`closing the audit spill failed: ${err.message}`);
    });
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
      eventId: newEventId(),
    });
    if (this.queue.length > this.memoryLimit) this.overflow();
    this.gauges();
    if (this.queue.length >= AUDIT_BATCH) this.kick();
  }

  /** Events in memory, not yet written or spilled. */
  get depth(): number {
    return this.queue.length;
  }

  /** Bytes on disk waiting to be written. */
  get spilledBytes(): number {
    return this.spill?.pendingBytes ?? 0;
  }

  /**
   * Writes everything in memory (in batches) to the database, or to the spill when the database
   * cannot take it; resolves when done. A spill drain under way pauses for it.
   */
  flush(): Promise<void> {
    return this.exclusive(0);
  }

  /** flush(), then the whole spill, as far as the database takes it. */
  drainAll(): Promise<void> {
    return this.exclusive(Infinity);
  }

  private tick(): void {
    this.ticks += 1;
    if (this.spill && this.ticks % MAINTAIN_EVERY === 0) void this.maintainSpill(this.spill);
    this.kick();
  }

  /** Starts a pump unless one runs (it takes up whatever is queued meanwhile). */
  private kick(): void {
    if (this.pumping || this.waiting) return;
    this.pumping = this.pump(Infinity).finally(() => (this.pumping = undefined));
  }

  private async exclusive(spillUntil: number): Promise<void> {
    this.waiting += 1;
    try {
      while (this.pumping) await this.pumping;
    } finally {
      this.waiting -= 1;
    }
    this.pumping = this.pump(spillUntil).finally(() => (this.pumping = undefined));
    await this.pumping;
    // Overflow on its way to disk: done (or back in memory) when this resolves.
    await Promise.all(this.appends);
  }

  /** Memory first, then (until `spillUntil`, and while nobody waits) the spill. */
  private async pump(spillUntil: number): Promise<void> {
    for (;;) {
      if (this.queue.length) {
        if (!this.canWrite()) return this.toSpill(this.queue.splice(0));
        const batch = this.queue.splice(0, AUDIT_BATCH);
        this.gauges();
        const done = await this.write(batch);
        if (done < batch.length)
          return this.toSpill([...batch.slice(done), ...this.queue.splice(0)]);
        continue;
      }
      if (this.waiting || Date.now() >= spillUntil || !this.spill?.hasPending) return;
      if (!this.canWrite()) return;
      try {
        if (!(await this.drainSpillBatch(this.spill))) return;
      } catch (err) {
        // The disk, not the database (a rotation's fsync); the next tick tries again.
        this.logger.error(`audit spill drain failed: ${(err as Error).message}`);
        return;
      }
    }
  }

  private canWrite(): boolean {
    return this.db.isInitialized && Date.now() >= this.nextAttemptAt;
  }

  /**
   * Writes a batch; when the database refuses it for a row's sake, row by row, dropping the bad
   * ones. Returns how many of the batch are done with (written or dropped): fewer than all when
   * the database became unavailable, the rest to be kept.
   */
  private async write(batch: QueuedRecord[]): Promise<number> {
    try {
      this.written(await this.insert(batch));
      this.recovered();
      return batch.length;
    } catch (err) {
      if (!isDataError(err)) {
        this.failed(err);
        return 0;
      }
    }
    for (let i = 0; i < batch.length; i++) {
      try {
        this.written(await this.insert([batch[i]]));
      } catch (err) {
        if (!isDataError(err)) {
          this.failed(err);
          return i;
        }
        this.drop(1);
        this.logger.error(
          `audit event ${batch[i].action} could not be stored: ${(err as Error).message}`,
        );
      }
    }
    this.recovered();
    return batch.length;
  }

  /** One batch of the oldest spill segment; false when the database stopped taking it. */
  private async drainSpillBatch(spill: AuditSpill): Promise<boolean> {
    if (!this.draining) {
      let name = spill.segments()[0];
      if (!name) {
        await spill.rotate();
        name = spill.segments()[0];
        if (!name) return false;
      }
      let read;
      try {
        read = await spill.read(name);
      } catch (err) {
        this.logger.error(`audit spill segment ${name} cannot be read (${(err as Error).message})`);
        await spill.quarantine(name);
        return true;
      }
      const records: QueuedRecord[] = [];
      for (const item of read.items) {
        const r = reviveRecord(item);
        if (r) records.push(r);
      }
      const damaged = read.corrupt + read.items.length - records.length;
      if (damaged) {
        this.drop(damaged);
        this.logger.warn(`audit spill segment ${name}: skipped ${damaged} damaged lines`);
      }
      this.draining = { name, records, next: 0 };
    }
    const d = this.draining;
    const batch = d.records.slice(d.next, d.next + AUDIT_BATCH);
    const done = batch.length ? await this.write(batch) : 0;
    d.next += done;
    if (done < batch.length) return false;
    if (d.next >= d.records.length) {
      this.draining = undefined;
      // A crash before this leaves the segment to be drained again: its rows are already there.
      await spill.remove(d.name).catch((err: Error) => {
        this.logger.warn(`drained audit spill segment ${d.name} not removed: ${err.message}`);
      });
      if (!spill.hasPending) this.logger.log('audit spill drained');
    }
    return true;
  }

  /** Over the memory bound: the oldest go to disk, down to half the bound; without a usable spill, dropped. */
  private overflow(): void {
    if (this.spillWritable() && this.inTransit < this.memoryLimit) {
      const append = this.toSpill(
        this.queue.splice(0, this.queue.length - Math.floor(this.memoryLimit / 2)),
      );
      this.appends.add(append);
      void append.finally(() => this.appends.delete(append));
    } else {
      this.trim();
    }
  }

  private spillWritable(): boolean {
    return !!this.spill && Date.now() >= this.spillRetryAt;
  }

  /** Never rejects: what the spill does not take stays in memory (up to the bound). */
  private async toSpill(records: QueuedRecord[]): Promise<void> {
    if (!records.length) return;
    const spill = this.spill;
    if (!spill || !this.spillWritable()) return this.requeue(records);
    this.inTransit += records.length;
    try {
      await spill.append(records);
      this.spilledTotal.inc(records.length);
      if (this.spillFailures) this.logger.log('audit spill writable again');
      this.spillFailures = 0;
    } catch (err) {
      this.spillFailures += 1;
      this.spillRetryAt = Date.now() + SPILL_RETRY_MS;
      if (this.spillFailures === 1 || this.spillFailures % 20 === 0) {
        this.logger.error(
          `audit spill write failed (${(err as Error).message}); holding events in memory`,
        );
      }
      this.requeue(records);
    } finally {
      this.inTransit -= records.length;
      this.gauges();
    }
  }

  private requeue(records: QueuedRecord[]): void {
    this.queue = records.concat(this.queue);
    this.trim();
    this.gauges();
  }

  /** Drops the oldest beyond what memory may hold. */
  private trim(): void {
    const limit = this.spill ? this.memoryLimit : Math.max(this.memoryLimit, AUDIT_MAX_QUEUE);
    const excess = this.queue.length - limit;
    if (excess <= 0) return;
    this.queue.splice(0, excess);
    this.drop(excess);
  }

  private async openSpill(dir: string): Promise<void> {
    try {
      const { spill, claim } = await AuditSpill.open({
        dir,
        database: databaseTag(this.config.databaseUrl),
        segmentBytes: this.options.segmentBytes,
      });
      this.spill = spill;
      if (claim.claimed || spill.hasPending) {
        this.logger.log(
          `audit spill: ${claim.claimed} segments left by an earlier process to write`,
        );
      }
      if (claim.foreign) {
        this.logger.warn(
          `audit spill: ${claim.foreign} segments in ${dir} are for another database and stay there`,
        );
      }
    } catch (err) {
      this.logger.error(
        `audit spill unavailable (${(err as Error).message}): while the database is unreachable, ` +
          `up to ${Math.max(this.memoryLimit, AUDIT_MAX_QUEUE)} audit events are held in memory`,
      );
    }
  }

  private async maintainSpill(spill: AuditSpill): Promise<void> {
    try {
      const m = await spill.maintain();
      if (m.lockLost) {
        this.logger.warn('audit spill lock was taken for dead by another process; re-created');
      }
      if (m.claimed)
        this.logger.log(`audit spill: adopted ${m.claimed} segments of a dead process`);
    } catch (err) {
      this.logger.warn(`audit spill maintenance failed: ${(err as Error).message}`);
    }
  }

  private written(n: number): void {
    this.metrics.auditWritten.inc(n);
  }

  private drop(n: number): void {
    if (!n) return;
    this.metrics.auditDropped.inc(n);
  }

  private gauges(): void {
    this.metrics.auditQueueDepth.set(this.queue.length);
  }

  private recovered(): void {
    if (this.failures) {
      this.logger.log(
        `audit log writable again; ${this.queue.length} events in memory, ` +
          `${this.spilledBytes} bytes in the spill to write`,
      );
    }
    this.failures = 0;
  }

  private failed(err: unknown): void {
    this.failures += 1;
    // Back off up to 10 s between attempts while the database is away.
    this.nextAttemptAt = Date.now() + Math.min(10_000, 250 * 2 ** Math.min(this.failures, 6));
    if (this.failures === 1 || this.failures % 20 === 0) {
      const what = isDatabaseUnavailable(err) ? 'database unavailable' : 'audit write failed';
      const where = this.spill ? `spilling to ${this.spill.dir}` : 'holding events in memory';
      this.logger.warn(`${what} (${(err as Error).message}); ${where}`);
    }
  }

  /**
   * One statement per batch with twelve array parameters (not twelve per row): parse and bind
   * cost stay flat however large the batch, which matters most on the in-process database.
   * Returns the rows inserted: an event already there (same event_id) is skipped.
   */
  private async insert(batch: QueuedRecord[]): Promise<number> {
    const col = <T>(pick: (e: QueuedRecord) => T) => batch.map(pick);
    // Events of a tenant deleted meanwhile would violate the foreign key; they go with the tenant.
    const rows = await withTimeout(
      this.db.query<{ n: number }[]>(
        `WITH inserted AS (
           INSERT INTO audit_events
             (event_id, tenant_id, at, actor_kind, actor_id, action, tool, key_id, outcome, duration_ms,
              request_id, detail)
           SELECT v.* FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::uuid[], $9::text[], $10::int[],
                                  $11::text[], $12::jsonb[])
             AS v(event_id, tenant_id, at, actor_kind, actor_id, action, tool, key_id, outcome,
                  duration_ms, request_id, detail)
            WHERE v.tenant_id IS NULL OR EXISTS (SELECT 1 FROM tenants t WHERE t.id = v.tenant_id)
           ON CONFLICT (event_id) DO NOTHING
           RETURNING 1
         )
         SELECT count(*)::int AS n FROM inserted`,
        [
          col((e) => e.eventId),
          col((e) => e.tenantId),
          col((e) => e.at.toISOString()),
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
      ),
      this.shuttingDown
        ? Math.min(this.writeTimeoutMs, SHUTDOWN_WRITE_TIMEOUT_MS)
        : this.writeTimeoutMs,
    );
    return rows[0]?.n ?? 0;
  }
}

export class AuditWriteTimeout extends Error {
  constructor(ms: number) {
    super(`audit write did not answer within ${ms} ms`);
  }
}

/**
 * The query goes on after a timeout; should it still commit, the events it carried are also in
 * the spill, and their event ids make the second insert a no-op.
 */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AuditWriteTimeout(ms)), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Spill segments name the database they are for: host, port and database name, hashed. */
export function databaseTag(url: string | undefined): string {
  if (!url) return 'embedded';
  const u = new URL(url);
  const database =
    decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username);
  return createHash('sha256')
    .update(`${u.hostname.toLowerCase()}:${u.port || '5432'}/${database}`)
    .digest('hex')
    .slice(0, 16);
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity): the row is at fault, not the server. */
function isDataError(err: unknown): boolean {
  const code =
    (err as { driverError?: { code?: string }; code?: string }).driverError?.code ??
    (err as { code?: string }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}
