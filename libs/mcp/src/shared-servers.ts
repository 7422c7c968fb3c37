import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ChangeFeed } from '@app/tenancy';
import type { ToolTenant } from '@app/tools';
import { DirectTransport } from './direct-transport';
import { McpServerFactory } from './mcp-server.factory';

interface Shared {
  server: Server;
  transport: DirectTransport;
  ready: Promise<void>;
}

const MAX_TENANTS = 5_000;

/**
 * One long-lived SDK server per tenant behind a DirectTransport, built once and reused by every
 * stateless request and every plain request inside a session. Handlers read the principal from
 * each request, so sharing the server shares nothing between callers.
 */
@Injectable()
export class SharedServers implements OnApplicationShutdown {
  private readonly byTenant = new Map<string, Shared>();

  constructor(
    private readonly factory: McpServerFactory,
    changes: ChangeFeed,
  ) {
    changes.subscribe((c) => {
      if (c.kind === 'tenant') this.drop(c.tenantId);
    });
  }

  async for(tenant: ToolTenant): Promise<DirectTransport> {
    let shared = this.byTenant.get(tenant.id);
    if (shared) {
      // Refresh its place: the map's order is least recently used first.
      this.byTenant.delete(tenant.id);
      this.byTenant.set(tenant.id, shared);
    } else {
      const server = this.factory.create(tenant);
      const transport = new DirectTransport();
      shared = { server, transport, ready: server.connect(transport) };
      this.byTenant.set(tenant.id, shared);
      if (this.byTenant.size > MAX_TENANTS) this.drop(this.byTenant.keys().next().value!);
    }
    await shared.ready;
    return shared.transport;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.byTenant.values()].map((s) => s.server.close()));
    this.byTenant.clear();
  }

  private drop(tenantId: string): void {
    const shared = this.byTenant.get(tenantId);
    if (!shared) return;
    this.byTenant.delete(tenantId);
    void shared.server.close().catch(() => undefined);
  }
}
