import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PlatformConfig } from '@app/config';
import { EgressRefused } from '@app/egress';
import { ChangeFeed, PlatformSecrets, TtlCache } from '@app/tenancy';
import {
  defineDataTool,
  type TenantToolProvider,
  type TenantTools,
  ToolCatalog,
  ToolContent,
  type ToolDefinition,
  ToolRegistry,
} from '@app/tools';
import { describeFailure, type LoadedSource, UpstreamError } from './loaded-source';
import { McpConnector } from './mcp-connector';
import { OpenApiRequestError } from './openapi';
import { OpenApiConnector } from './openapi-connector';
import { type BreakerState, SourceGate, SourceUnavailable } from './source-gate';
import { sourceToolName } from './source-names';
import {
  type CatalogTool,
  type McpSourceConfig,
  type OpenApiSourceConfig,
  type SourceSecrets,
  ToolSourceRecord,
} from './tool-source.entity';

export const SECRETS_PURPOSE = 'tool-sources';

const EMPTY: TenantTools = Object.freeze({ tools: Object.freeze([]) });

/** What calls taught this replica about a source since its row was last written. */
export interface SourceHealth {
  lastSuccessAt?: Date;
  lastErrorAt?: Date;
  lastError?: string;
  latencyMs?: number;
  breaker: BreakerState;
}

interface LiveHealth {
  tenantId: string;
  lastSuccessAt?: Date;
  lastErrorAt?: Date;
  lastError?: string;
  latencyMs?: number;
  dirty: boolean;
}

/**
 * A tenant's source tools as catalog entries: each enabled source's last-read tools, named
 * `<prefix>_<tool>`, with the source's scopes, called through the source's gate (concurrency cap,
 * breaker, timeout). Kept per tenant until a catalog change (any replica) or the cache TTL.
 */
@Injectable()
export class SourceCatalog implements TenantToolProvider, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('SourceCatalog');
  private readonly cache: TtlCache<TenantTools>;
  private readonly gates = new Map<string, { version: number; gate: SourceGate }>();
  private readonly health = new Map<string, LiveHealth>();
  private flusher?: NodeJS.Timeout;

  constructor(
    @InjectRepository(ToolSourceRecord) private readonly sources: Repository<ToolSourceRecord>,
    private readonly secrets: PlatformSecrets,
    private readonly changes: ChangeFeed,
    private readonly catalog: ToolCatalog,
    private readonly registry: ToolRegistry,
    private readonly mcp: McpConnector,
    private readonly openapi: OpenApiConnector,
    private readonly config: PlatformConfig,
  ) {
    this.cache = new TtlCache(Math.max(config.apiKeyCacheTtlMs, 5_000));
  }

  onModuleInit(): void {
    this.catalog.use(this);
    this.changes.subscribe((c) => {
      if (c.kind === 'catalog' || c.kind === 'tenant') this.cache.delete(c.tenantId);
      if (c.kind === 'all') this.cache.clear();
    });
    this.flusher = setInterval(() => void this.flush(), 5_000);
    this.flusher.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.flusher);
    await this.flush();
  }

  toolsFor(tenantId: string): Promise<TenantTools> {
    return this.cache.get(tenantId, () => this.load(tenantId));
  }

  /** Opens a row's sealed secrets, for a call or a catalog read. */
  loaded(row: ToolSourceRecord): LoadedSource {
    return {
      id: row.id,
      tenantId: row.tenantId,
      name: row.name,
      version: row.updatedAt.getTime(),
      config: row.config,
      secrets: row.secrets
        ? (JSON.parse(this.secrets.open(SECRETS_PURPOSE, row.secrets)) as SourceSecrets)
        : {},
    };
  }

  sealSecrets(secrets: SourceSecrets): string | null {
    const present = Object.keys(secrets.headers ?? {}).length || secrets.credential !== undefined;
    return present ? this.secrets.seal(SECRETS_PURPOSE, JSON.stringify(secrets)) : null;
  }

  /** What this replica knows of a source's health beyond its row. */
  healthOf(sourceId: string): SourceHealth {
    const live = this.health.get(sourceId);
    return {
      ...(live?.lastSuccessAt ? { lastSuccessAt: live.lastSuccessAt } : {}),
      ...(live?.lastErrorAt ? { lastErrorAt: live.lastErrorAt, lastError: live.lastError } : {}),
      ...(live?.latencyMs !== undefined ? { latencyMs: live.latencyMs } : {}),
      breaker: this.gates.get(sourceId)?.gate.state ?? 'closed',
    };
  }

  /** Drops what is held for a source that changed or went away (pooled clients, its gate). */
  async forget(sourceId: string): Promise<void> {
    this.gates.delete(sourceId);
    await this.mcp.forget(sourceId);
  }

  private async load(tenantId: string): Promise<TenantTools> {
    const rows = await this.sources.find({
      where: { tenantId, enabled: true },
      order: { createdAt: 'ASC' },
    });
    if (!rows.length) return EMPTY;
    const limits = this.registry.defaultArgumentLimits();
    const tools: ToolDefinition[] = [];
    for (const row of rows) {
      let source: LoadedSource;
      try {
        source = this.loaded(row);
      } catch (err) {
        this.logger.error(
          `tool source ${row.name} of tenant ${tenantId} is left out: its secrets do not open (${(err as Error).message})`,
        );
        continue;
      }
      for (const tool of row.catalog) {
        const name = sourceToolName(row.prefix, tool.name);
        if (!name || this.registry.get(name)) continue;
        tools.push(
          defineDataTool(
            {
              name,
              title: tool.title,
              description: tool.description,
              inputSchema: tool.inputSchema,
              outputSchema: tool.outputSchema,
              annotations: tool.annotations,
              requiredScopes: row.toolScopes[tool.name] ?? row.scopes,
              origin: { sourceId: row.id, sourceName: row.name },
              handler: (args, ctx) => this.call(source, tool, name, args, ctx.signal),
            },
            limits,
          ),
        );
      }
    }
    return Object.freeze({ tools: Object.freeze(tools) });
  }

  private gate(source: LoadedSource): SourceGate {
    const held = this.gates.get(source.id);
    if (held && held.version === source.version) return held.gate;
    const concurrency = this.config.sourceConcurrency;
    const gate = new SourceGate(`tool source ${source.name}`, {
      concurrency,
      queue: concurrency * 4,
      queueWaitMs: Math.min(5_000, this.config.sourceTimeoutMs),
      failureThreshold: 5,
      openMs: this.config.sourceBreakerOpenMs,
    });
    this.gates.set(source.id, { version: source.version, gate });
    return gate;
  }

  private async call(
    source: LoadedSource,
    tool: CatalogTool,
    name: string,
    args: unknown,
    signal: AbortSignal,
  ): Promise<ToolContent> {
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.config.sourceTimeoutMs);
    const both = AbortSignal.any([signal, timeout]);
    const input = (args ?? {}) as Record<string, unknown>;
    try {
      const answer = await this.gate(source).run(
        () =>
          source.config.kind === 'mcp'
            ? this.mcp.call(source as LoadedSource<McpSourceConfig>, tool, input, both)
            : this.openapi.call(source as LoadedSource<OpenApiSourceConfig>, tool, input, both),
        // The caller's mistake is not the upstream failing, nor is a cancelled call.
        (outcome) =>
          outcome instanceof Error && !(outcome instanceof OpenApiRequestError) && !signal.aborted,
      );
      this.note(source, { ok: true, latencyMs: performance.now() - started });
      return answer;
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof OpenApiRequestError) {
        return new ToolContent(
          [{ type: 'text', text: `invalid arguments for ${name}: ${err.message}` }],
          {
            isError: true,
          },
        );
      }
      const why =
        err instanceof SourceUnavailable || err instanceof EgressRefused
          ? err.message
          : timeout.aborted
            ? `no answer within ${this.config.sourceTimeoutMs / 1000} s`
            : describeFailure(err);
      if (!(err instanceof SourceUnavailable)) this.note(source, { ok: false, error: why });
      if (!(err instanceof SourceUnavailable || err instanceof UpstreamError)) {
        this.logger.warn(`tool source ${source.name} (${source.id}) failed a call: ${why}`);
      }
      return new ToolContent(
        [{ type: 'text', text: `${name} (source ${source.name}) failed: ${why}` }],
        { isError: true },
      );
    }
  }

  private note(
    source: LoadedSource,
    o: { ok: true; latencyMs: number } | { ok: false; error: string },
  ): void {
    const h = this.health.get(source.id) ?? { tenantId: source.tenantId, dirty: false };
    const now = new Date();
    if (o.ok) {
      h.lastSuccessAt = now;
      h.latencyMs = Math.round(o.latencyMs);
    } else {
      h.lastErrorAt = now;
      h.lastError = o.error.slice(0, 500);
    }
    h.dirty = true;
    this.health.set(source.id, h);
  }

  /** Writes what calls learned to the rows, so GET shows it on every replica. */
  private async flush(): Promise<void> {
    for (const [id, h] of this.health) {
      if (!h.dirty) continue;
      h.dirty = false;
      try {
        await this.sources
          .createQueryBuilder()
          .update()
          .set({
            ...(h.lastSuccessAt ? { lastSuccessAt: h.lastSuccessAt, latencyMs: h.latencyMs } : {}),
            ...(h.lastErrorAt ? { lastErrorAt: h.lastErrorAt, lastError: h.lastError } : {}),
            // The health of a source is not a change of it: its version stays.
            updatedAt: () => 'updated_at',
          })
          .where('tenant_id = :tenantId AND id = :id', { tenantId: h.tenantId, id })
          .execute();
      } catch (err) {
        h.dirty = true;
        this.logger.debug(`could not record the health of source ${id}: ${(err as Error).message}`);
        return;
      }
    }
  }
}
