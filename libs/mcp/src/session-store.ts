import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { PlatformConfig } from '@app/config';
import { Metrics } from '@app/observability';
import { ChangeFeed, TenantsService } from '@app/tenancy';

export interface McpSession {
  id: string;
  kind: 'streamable' | 'sse';
  tenantId: string;
  /** Only this principal may use the session. */
  principalId: string;
  keyId?: string;
  server: Server;
  transport: Transport;
  lastSeen: number;
}

/**
 * Sessions held by this process, each bound to the tenant and principal that created it, evicted
 * when idle and capped per tenant (the least recently used goes first).
 */
@Injectable()
export class SessionStore implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(SessionStore.name);
  private readonly sessions = new Map<string, McpSession>();
  /** Session ids per tenant, in insertion order. */
  private readonly byTenant = new Map<string, Set<string>>();
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly config: PlatformConfig,
    private readonly changes: ChangeFeed,
    private readonly tenants: TenantsService,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    const every = Math.max(1000, Math.min(60_000, this.config.sessionIdleTtlMs / 4));
    this.sweeper = setInterval(() => this.evictIdle(), every);
    this.sweeper.unref();
    this.changes.subscribe((c) => {
      switch (c.kind) {
        case 'grants':
          this.notifyToolsChanged(this.ofTenant(c.tenantId));
          break;
        case 'key':
          this.notifyToolsChanged([...this.sessions.values()].filter((s) => s.keyId === c.keyId));
          break;
        case 'all':
          this.notifyToolsChanged([...this.sessions.values()]);
          break;
        case 'tenant':
          if (this.byTenant.has(c.tenantId)) {
            this.closeIfTenantGone(c.tenantId, c.slug).catch((err: unknown) =>
              this.logger.warn(
                `checking tenant ${c.slug} after a change: ${(err as Error).message}`,
              ),
            );
          }
          break;
      }
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.closeAll();
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((s) => this.close(s)));
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The session, if it exists and belongs to this tenant and principal; touches it. */
  find(id: string, tenantId: string, principalId: string): McpSession | undefined {
    const s = this.sessions.get(id);
    if (!s || s.tenantId !== tenantId || s.principalId !== principalId) return undefined;
    s.lastSeen = Date.now();
    return s;
  }

  add(session: McpSession): void {
    const ids = this.byTenant.get(session.tenantId) ?? new Set<string>();
    this.byTenant.set(session.tenantId, ids);
    if (ids.size >= this.config.maxSessionsPerTenant) {
      const lru = this.ofTenant(session.tenantId).reduce((a, b) =>
        a.lastSeen <= b.lastSeen ? a : b,
      );
      this.logger.warn(`tenant session cap reached; closing least recently used session ${lru.id}`);
      void this.close(lru);
    }
    this.sessions.set(session.id, session);
    ids.add(session.id);
    this.metrics.openSessions.set(this.sessions.size);
  }

  remove(id: string | undefined): void {
    const s = id === undefined ? undefined : this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(s.id);
    const ids = this.byTenant.get(s.tenantId);
    ids?.delete(s.id);
    if (ids?.size === 0) this.byTenant.delete(s.tenantId);
    this.metrics.openSessions.set(this.sessions.size);
  }

  evictIdle(now = Date.now()): void {
    for (const s of this.sessions.values()) {
      if (now - s.lastSeen > this.config.sessionIdleTtlMs) void this.close(s);
    }
  }

  private ofTenant(tenantId: string): McpSession[] {
    const ids = this.byTenant.get(tenantId);
    return ids ? [...ids].map((id) => this.sessions.get(id)!).filter(Boolean) : [];
  }

  private async close(s: McpSession): Promise<void> {
    this.remove(s.id);
    try {
      await s.server.close();
    } catch (err) {
      this.logger.warn(`closing session ${s.id}: ${(err as Error).message}`);
    }
  }

  private notifyToolsChanged(sessions: McpSession[]): void {
    for (const s of sessions) s.server.sendToolListChanged().catch(() => undefined);
  }

  private async closeIfTenantGone(tenantId: string, slug: string): Promise<void> {
    const tenant = await this.tenants.resolve(slug);
    if (tenant && tenant.status === 'active') return;
    await Promise.all(this.ofTenant(tenantId).map((s) => this.close(s)));
  }
}
