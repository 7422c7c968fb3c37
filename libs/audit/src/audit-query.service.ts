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
}
