import { BadRequestException, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { Page } from '@app/database';
import { AuditEvent, AuditOutcome } from './audit-event.entity';

export interface AuditFilter {
  tool?: string;
  keyId?: string;
  outcome?: AuditOutcome;
  action?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

const decodeCursor = (c: string): string => {
  if (!/^[0-9]{1,19}$/.test(c)) {
    throw new BadRequestException('cursor is not valid: pass the nextCursor of a previous page');
  }
  return c;
};

/** One hour of a tenant's audit log: tool calls, events that failed, events that were refused. */
export interface AuditHour {
  hour: Date;
  calls: number;
  errors: number;
  denials: number;
}

const HOUR_MS = 3_600_000;

/** Reads a tenant's audit log, newest first. The tenant id is always part of the query. */
@Injectable()
export class AuditQueryService {
  constructor(@InjectRepository(AuditEvent) private readonly events: Repository<AuditEvent>) {}

  async list(tenantId: string, f: AuditFilter): Promise<Page<AuditEvent>> {
    const qb = this.events.createQueryBuilder('e').where('e.tenant_id = :tenantId', { tenantId });
    if (f.tool) qb.andWhere('e.tool = :tool', { tool: f.tool });
    if (f.keyId) qb.andWhere('e.key_id = :keyId', { keyId: f.keyId });
    if (f.outcome) qb.andWhere('e.outcome = :outcome', { outcome: f.outcome });
    if (f.action) qb.andWhere('e.action = :action', { action: f.action });
    if (f.from) qb.andWhere('e.at >= :from', { from: f.from });
    if (f.to) qb.andWhere('e.at < :to', { to: f.to });
    if (f.cursor) qb.andWhere('e.id < :cursor', { cursor: decodeCursor(f.cursor) });
    const rows = await qb
      .orderBy('e.id', 'DESC')
      .limit(f.limit + 1)
      .getMany();
    const items = rows.slice(0, f.limit);
    return {
      items,
      nextCursor: rows.length > f.limit ? (items[items.length - 1]?.id ?? null) : null,
    };
  }

  /**
   * Counts per hour (UTC) for the `hours` hours up to and including the current one, oldest
   * first, hours without events included as zeros. Calls are `tool.call` events of any outcome;
   * errors and denials are events of any action with that outcome (a refused credential is a
   * denial too).
   */
  async hourly(tenantId: string, hours: number, now = new Date()): Promise<AuditHour[]> {
    const last = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
    const first = last - (hours - 1) * HOUR_MS;
    const rows: Array<{ hour: number | string; calls: string; errors: string; denials: string }> =
      await this.events
        .createQueryBuilder('e')
        .select('floor(extract(epoch from e.at) / 3600)', 'hour')
        .addSelect("count(*) FILTER (WHERE e.action = 'tool.call')", 'calls')
        .addSelect("count(*) FILTER (WHERE e.outcome = 'error')", 'errors')
        .addSelect("count(*) FILTER (WHERE e.outcome = 'denied')", 'denials')
        .where('e.tenant_id = :tenantId', { tenantId })
        .andWhere('e.at >= :from', { from: new Date(first) })
        .groupBy('1')
        .getRawMany();
    const byHour = new Map(rows.map((r) => [Number(r.hour) * HOUR_MS, r]));
    return Array.from({ length: hours }, (_, i) => {
      const at = first + i * HOUR_MS;
      const r = byHour.get(at);
      return {
        hour: new Date(at),
        calls: Number(r?.calls ?? 0),
        errors: Number(r?.errors ?? 0),
        denials: Number(r?.denials ?? 0),
      };
    });
  }
}
