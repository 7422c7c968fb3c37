import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { PlatformConfig } from '@app/config';
import { ChangeFeed } from './change-feed';
import { ToolGrant } from './entities';
import { TtlCache } from './ttl-cache';

/** Per-tenant tool switches. A tool without a row is enabled. */
@Injectable()
export class ToolGrantsService {
  private readonly cache: TtlCache<ReadonlyMap<string, boolean>>;

  constructor(
    @InjectRepository(ToolGrant) private readonly grants: Repository<ToolGrant>,
    private readonly changes: ChangeFeed,
    config: PlatformConfig,
  ) {
    this.cache = new TtlCache(config.apiKeyCacheTtlMs);
    changes.subscribe((c) => {
      if (c.kind === 'grants' || c.kind === 'tenant') this.cache.delete(c.tenantId);
      if (c.kind === 'all') this.cache.clear();
    });
  }

  forTenant(tenantId: string): Promise<ReadonlyMap<string, boolean>> {
    return this.cache.get(tenantId, async () => {
      const rows = await this.grants.findBy({ tenantId });
      return new Map(rows.map((r) => [r.toolName, r.enabled]));
    });
  }

  /** Forgets the switches of tools that are gone (a removed tool source's), so a later tool of the same name starts enabled. */
  async forget(tenantId: string, toolNames: readonly string[]): Promise<void> {
    if (!toolNames.length) return;
    const { affected } = await this.grants.delete({ tenantId, toolName: In([...toolNames]) });
    if (affected) this.changes.publish({ kind: 'grants', tenantId });
  }

  async set(tenantId: string, toolName: string, enabled: boolean): Promise<void> {
    await this.grants.upsert({ tenantId, toolName, enabled }, ['tenantId', 'toolName']);
    this.changes.publish({ kind: 'grants', tenantId });
  }
}
