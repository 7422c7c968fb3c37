import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { PlatformConfig } from '@app/config';
import { Metrics } from '@app/observability';
import { ChangeFeed, protocolPosture, ReplicaTopic, TenantsService } from '@app/tenancy';
import { ResourceUpdates } from '@app/tools';
import { ResourceSubscriptions } from './resource-subscriptions';
import { SessionDirectory, SessionRecord } from './session-directory';

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
  /** When this replica last wrote the session's shared record (REDIS_URL). */
  sharedAt?: number;
}

/** A session this request may use: held here, or (REDIS_URL) by another replica. */
export type SessionRef = Pick<McpSession, 'id' | 'tenantId' | 'principalId' | 'keyId'> & {
  server?: Server;
};

/**
 * Sessions held by this process, each bound to the tenant and principal that created it, evicted
 * when idle and capped per tenant (the least recently used goes first).
 */
@Injectable()
export class SessionStore implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(SessionStore.name);
  private readonly sessions = new Map<string, McpSession>();
  /** Session ids per tenant, in insertion order. */
  private readonly byTenant = new Map<string, Set<string>>();
  private sweeper?: NodeJS.Timeout;
  private stopping = false;
  /** Sessions ended through another replica (DELETE there), to close here too. */
  private readonly ended: ReplicaTopic<{ sessionId: string }>;

  constructor(
    private readonly config: PlatformConfig,
    private readonly changes: ChangeFeed,
    private readonly tenants: TenantsService,
    private readonly metrics: Metrics,
    private readonly directory: SessionDirectory,
    private readonly updates: ResourceUpdates,
    private readonly subscriptions: ResourceSubscriptions,
  ) {
    this.ended = changes.topic('mcp-sessions');
  }

  onModuleInit(): void {
    const every = Math.max(1000, Math.min(60_000, this.config.sessionIdleTtlMs / 4));
    this.sweeper = setInterval(() => void this.evictIdle(), every);
    this.sweeper.unref();
    this.changes.subscribe((c) => {
      switch (c.kind) {
        case 'grants':
        case 'catalog':
          this.notifyListsChanged(this.ofTenant(c.tenantId));
          break;
        case 'key':
          this.notifyListsChanged([...this.sessions.values()].filter((s) => s.keyId === c.keyId));
          break;
        case 'all':
          this.notifyListsChanged([...this.sessions.values()]);
          break;
        case 'tenant':
          if (this.byTenant.has(c.tenantId)) {
            this.closeIfNoLongerServed(c.tenantId, c.slug).catch((err: unknown) =>
              this.logger.warn(
                `checking tenant ${c.slug} after a change: ${(err as Error).message}`,
              ),
            );
          }
          break;
      }
    });
    // Reading is checked on every read; the notification only names a URI the session may read.
    this.updates.subscribe(({ tenantId, uri }) => {
      for (const s of this.ofTenant(tenantId)) {
        if (this.subscriptions.watches(s.server, uri)) {
          s.server.sendResourceUpdated({ uri }).catch(() => undefined);
        }
      }
    });
    this.ended.subscribe(({ sessionId }) => {
      const s = this.sessions.get(sessionId);
      if (s) void this.close(s);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.directory.close();
  }

  /**
   * Closes every session held here (shutdown, by the app's shutdown coordinator, once ordinary
   * requests are done). Their shared records stay: with REDIS_URL the other replicas keep serving
   * their plain requests.
   */
  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    this.stopping = true;
    await Promise.all([...this.sessions.values()].map((s) => this.close(s)));
  }

  /** The session, if it exists and belongs to this tenant and principal; touches it. */
  find(id: string, tenantId: string, principalId: string): McpSession | undefined {
    const s = this.sessions.get(id);
    if (!s || s.tenantId !== tenantId || s.principalId !== principalId) return undefined;
    s.lastSeen = Date.now();
    if (this.directory.shared && s.kind === 'streamable' && this.due(s.sharedAt ?? 0)) {
      s.sharedAt = s.lastSeen;
      void this.directory.announce(this.record(s));
    }
    return s;
  }

  /**
   * A session another replica holds (REDIS_URL), if it belongs to this tenant and principal;
   * using it keeps it alive everywhere.
   */
  async findShared(
    id: string,
    tenantId: string,
    principalId: string,
  ): Promise<SessionRef | undefined> {
    if (!this.directory.shared) return undefined;
    const r = await this.directory.lookup(id);
    if (!r || r.tenantId !== tenantId || r.principalId !== principalId) return undefined;
    if (this.due(r.lastSeen)) void this.directory.announce({ ...r, lastSeen: Date.now() });
    return { id: r.id, tenantId: r.tenantId, principalId: r.principalId, keyId: r.keyId };
  }

  /** Ends a session another replica holds: its record goes, and its holder closes it. */
  async endShared(id: string): Promise<void> {
    await this.directory.end(id);
    this.ended.publish({ sessionId: id });
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
    if (this.directory.shared && session.kind === 'streamable') {
      session.sharedAt = session.lastSeen;
      void this.directory.announce(this.record(session));
    }
  }

  remove(id: string | undefined): void {
    const s = id === undefined ? undefined : this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(s.id);
    const ids = this.byTenant.get(s.tenantId);
    ids?.delete(s.id);
    if (ids?.size === 0) this.byTenant.delete(s.tenantId);
    this.metrics.openSessions.set(this.sessions.size);
    if (this.directory.shared && s.kind === 'streamable' && !this.stopping) {
      void this.directory.end(s.id);
    }
  }

  async evictIdle(now = Date.now()): Promise<void> {
    const ttl = this.config.sessionIdleTtlMs;
    for (const s of [...this.sessions.values()]) {
      if (now - s.lastSeen <= ttl) continue;
      // Idle here, but perhaps in use through other replicas.
      if (this.directory.shared && s.kind === 'streamable') {
        const shared = await this.directory.lookup(s.id);
        if (shared && now - shared.lastSeen <= ttl) {
          s.lastSeen = shared.lastSeen;
          continue;
        }
      }
      void this.close(s);
    }
  }

  /** Shared records are rewritten at most every quarter of the idle timeout. */
  private due(since: number): boolean {
    return Date.now() - since > this.config.sessionIdleTtlMs / 4;
  }

  private record(s: McpSession): SessionRecord {
    return {
      id: s.id,
      tenantId: s.tenantId,
      principalId: s.principalId,
      keyId: s.keyId,
      lastSeen: s.lastSeen,
    };
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

  /**
   * A grant or a credential changed: the tools, prompts and resources a session sees may all
   * differ now (grants name all three kinds, and the server declares listChanged for each).
   */
  private notifyListsChanged(sessions: McpSession[]): void {
    for (const s of sessions) {
      s.server.sendPromptListChanged().catch(() => undefined);
      s.server.sendResourceListChanged().catch(() => undefined);
      s.server.sendToolListChanged().catch(() => undefined);
    }
  }

  private async closeIfNoLongerServed(tenantId: string, slug: string): Promise<void> {
    const tenant = await this.tenants.resolve(slug);
    // A tenant now serving only 2026-07-28 has no 2025 sessions left to serve.
    if (tenant?.status === 'active' && protocolPosture(tenant) !== 'modern-only') return;
    await Promise.all(this.ofTenant(tenantId).map((s) => this.close(s)));
  }
}
