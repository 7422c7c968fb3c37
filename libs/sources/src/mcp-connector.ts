import {
  Client,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type Tool,
} from '@modelcontextprotocol/client';
import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { PlatformConfig } from '@app/config';
import { EgressPolicy, EgressRefused } from '@app/egress';
import { type JsonObjectSchema, ToolContent } from '@app/tools';
import {
  describeFailure,
  type LoadedSource,
  MAX_DESCRIPTION_CHARS,
  MAX_SCHEMA_BYTES,
  MAX_TOOLS_PER_SOURCE,
  type ReadCatalog,
  UpstreamError,
} from './loaded-source';
import type { CatalogTool, McpSourceConfig, SkippedTool } from './tool-source.entity';

type McpSource = LoadedSource<McpSourceConfig>;

interface Pooled {
  version: number;
  client: Promise<Client>;
  lastUsed: number;
}

const CLIENT_INFO = { name: 'mcp-platform', version: '0.1.0' };
/** A pooled connection unused this long is closed (the upstream may keep a session for it). */
const IDLE_MS = 5 * 60_000;

/** Whether an error means the upstream forgot our session (restarted, expired) or dropped it. */
function sessionGone(err: unknown): boolean {
  if (err instanceof SdkHttpError) return err.status === 404;
  return (
    err instanceof SdkError &&
    (err.code === SdkErrorCode.ConnectionClosed || err.code === SdkErrorCode.NotConnected)
  );
}

function objectSchema(v: unknown): v is JsonObjectSchema {
  return !!v && typeof v === 'object' && (v as { type?: unknown }).type === 'object';
}

/**
 * Upstream MCP servers: one pooled client per source, in the newest era the upstream offers
 * (2026-07-28, else the 2025 handshake; legacy HTTP+SSE when Streamable HTTP is not there). A
 * reused 2025 session the upstream no longer knows is opened again once, transparently. Every
 * request goes through the egress policy with the source's own headers; the caller's credential
 * never leaves the platform.
 */
@Injectable()
export class McpConnector implements OnModuleDestroy {
  private readonly logger = new Logger('McpSources');
  private readonly pool = new Map<string, Pooled>();
  private readonly sweeper: NodeJS.Timeout;
  /** Told when an upstream says its tool list changed, so its catalog can be read again. */
  onListChanged?: (source: McpSource) => void;

  constructor(
    private readonly egress: EgressPolicy,
    private readonly config: PlatformConfig,
  ) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.pool.keys()].map((id) => this.forget(id)));
  }

  /** Connects afresh, lists every tool, disconnects. */
  async readCatalog(source: McpSource): Promise<ReadCatalog> {
    const client = await this.connect(source, false);
    try {
      const { tools } = await client.listTools(undefined, {
        timeout: this.config.sourceTimeoutMs,
        cacheMode: 'bypass',
      });
      return catalogOf(tools);
    } catch (err) {
      throw new UpstreamError(
        `could not list the tools of ${source.config.url}: ${describeFailure(err)}`,
      );
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  async call(
    source: McpSource,
    tool: CatalogTool,
    args: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<ToolContent> {
    const once = async () => {
      const client = await this.client(source);
      return client.callTool(
        { name: tool.name, arguments: args },
        {
          signal,
          timeout: this.config.sourceTimeoutMs,
          // No output schema: the upstream's answer is relayed, and a tenant's schema is not
          // compiled here (its patterns would run on the shared event loop).
          toolDefinition: { name: tool.name, inputSchema: tool.inputSchema },
        },
      );
    };
    let result;
    try {
      result = await once();
    } catch (err) {
      if (!sessionGone(err)) throw err;
      await this.forget(source.id);
      result = await once();
    }
    return new ToolContent(result.content, {
      ...(result.structuredContent !== undefined
        ? { structuredContent: result.structuredContent as Record<string, unknown> }
        : {}),
      ...(result.isError ? { isError: true } : {}),
    });
  }

  /** Closes the pooled connection of a source (changed, deleted, or its session is gone). */
  async forget(sourceId: string): Promise<void> {
    const pooled = this.pool.get(sourceId);
    if (!pooled) return;
    this.pool.delete(sourceId);
    const client = await pooled.client.catch(() => undefined);
    await client?.close().catch(() => undefined);
  }

  private client(source: McpSource): Promise<Client> {
    const pooled = this.pool.get(source.id);
    if (pooled && pooled.version === source.version) {
      pooled.lastUsed = Date.now();
      return pooled.client;
    }
    if (pooled) void this.forget(source.id);
    const entry: Pooled = {
      version: source.version,
      client: this.connect(source, true),
      lastUsed: Date.now(),
    };
    this.pool.set(source.id, entry);
    entry.client.catch(() => {
      if (this.pool.get(source.id) === entry) this.pool.delete(source.id);
    });
    return entry.client;
  }

  private async connect(source: McpSource, pooled: boolean): Promise<Client> {
    const { url, transport } = source.config;
    const fetch = this.fetchFor(source);
    const open = async (kind: 'streamable-http' | 'sse'): Promise<Client> => {
      const client = new Client(CLIENT_INFO, {
        versionNegotiation: { mode: kind === 'sse' ? 'legacy' : 'auto' },
      });
      const t =
        kind === 'sse'
          ? new SSEClientTransport(new URL(url), { fetch })
          : new StreamableHTTPClientTransport(new URL(url), { fetch });
      try {
        await withTimeout(client.connect(t), this.config.sourceTimeoutMs, `connecting to ${url}`);
      } catch (err) {
        // A failed start may leave an event source that retries for ever.
        await client.close().catch(() => undefined);
        await t.close().catch(() => undefined);
        throw err;
      }
      if (pooled) {
        client.onclose = () => {
          const entry = this.pool.get(source.id);
          if (entry?.version === source.version) this.pool.delete(source.id);
        };
        client.setNotificationHandler('notifications/tools/list_changed', () => {
          this.onListChanged?.(source);
        });
      }
      return client;
    };
    try {
      return await open(transport === 'sse' ? 'sse' : 'streamable-http');
    } catch (err) {
      if (err instanceof EgressRefused) throw err;
      if (transport !== 'auto')
        throw new UpstreamError(`could not connect to ${url}: ${describeFailure(err)}`);
      try {
        return await open('sse');
      } catch (second) {
        if (second instanceof EgressRefused) throw second;
        this.logger.debug(`legacy SSE to ${url} failed too: ${describeFailure(second)}`);
        throw new UpstreamError(`could not connect to ${url}: ${describeFailure(err)}`);
      }
    }
  }

  /** The egress policy's fetch with the source's headers on every request. */
  private fetchFor(
    source: McpSource,
  ): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
    const injected = source.secrets.headers ?? {};
    return (input, init) => {
      const headers = new Headers(
        init?.headers ?? (input instanceof Request ? input.headers : undefined),
      );
      // The SDK never sets the caller's credential, and the source's own headers win over its.
      for (const [name, value] of Object.entries(injected)) headers.set(name, value);
      // Not followed: the source's headers would travel with a redirect to wherever it points.
      return this.egress.fetchFn(input, { ...init, headers, redirect: 'manual' });
    };
  }

  private sweep(): void {
    const cutoff = Date.now() - IDLE_MS;
    for (const [id, pooled] of this.pool) {
      if (pooled.lastUsed < cutoff) void this.forget(id);
    }
  }
}

function catalogOf(tools: Tool[]): ReadCatalog {
  const out: CatalogTool[] = [];
  const skipped: SkippedTool[] = [];
  for (const t of tools) {
    if (out.length >= MAX_TOOLS_PER_SOURCE) {
      skipped.push({ name: t.name, reason: `more than ${MAX_TOOLS_PER_SOURCE} tools` });
      continue;
    }
    if (!objectSchema(t.inputSchema)) {
      skipped.push({ name: t.name, reason: 'its inputSchema is not an object schema' });
      continue;
    }
    const schemaBytes = JSON.stringify([t.inputSchema, t.outputSchema ?? null]).length;
    if (schemaBytes > MAX_SCHEMA_BYTES) {
      skipped.push({ name: t.name, reason: `its schemas exceed ${MAX_SCHEMA_BYTES} bytes` });
      continue;
    }
    out.push({
      name: t.name,
      ...(t.title ? { title: t.title } : {}),
      description: (t.description ?? '').slice(0, MAX_DESCRIPTION_CHARS),
      inputSchema: t.inputSchema,
      ...(objectSchema(t.outputSchema) ? { outputSchema: t.outputSchema } : {}),
      ...(t.annotations ? { annotations: t.annotations } : {}),
    });
  }
  return { tools: out, skipped };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new UpstreamError(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
