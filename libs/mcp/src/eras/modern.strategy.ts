import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import {
  classifyInboundRequest,
  createMcpHandler,
  type InboundClassificationOutcome,
  type McpHttpHandler,
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  Server,
  type ServerContext,
  type Tool,
  type CallToolResult,
} from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import { markLongLived } from '@app/observability';
import { ChangeFeed, type Tenant } from '@app/tenancy';
import type { ToolContext, ToolTenant } from '@app/tools';
import { attachAuth, McpBodies, type McpExchange, type PlatformAuthInfo } from '../mcp-exchange';
import { SERVER_INFO } from '../server-info';
import { ToolSurface } from '../tool-surface';
import type { ServingStrategy } from './serving-strategy';
import { serveWebExchange } from './web-exchange';

/** An open `subscriptions/listen` stream, ended when its credential changes. */
interface ListenStream {
  keyId?: string;
  end(): void;
}

const MAX_TENANTS = 5_000;
/** setTimeout's ceiling (~24.8 days); a later expiry ends the stream then, to be reopened. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One validator for every per-request server: a new one per server would cost each request. */
const jsonSchemaValidator = new AjvJsonSchemaValidator();

const CAPABILITIES = {
  tools: { listChanged: true },
  logging: {},
  // Declared with empty catalogs until the platform hosts prompts and resources: clients and the
  // conformance suite expect the cacheable lists to be answered, not refused.
  prompts: {},
  resources: {},
};

/**
 * Lists differ per principal and change with grants: `private`, and 0 ms so that no client keeps
 * one past a grant change (a listen stream is told of changes). Discovery describes the server,
 * which changes only with a deployment.
 */
const LIST_HINT = { ttlMs: 0, cacheScope: 'private' } as const;
const CACHE_HINTS = {
  'server/discover': { ttlMs: 300_000, cacheScope: 'private' },
  'tools/list': LIST_HINT,
  'prompts/list': LIST_HINT,
  'resources/list': LIST_HINT,
  'resources/templates/list': LIST_HINT,
} as const;

const classified = new WeakMap<object, InboundClassificationOutcome>();

const header = (x: McpExchange, name: string): string | undefined => {
  const value = x.req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * The 2026-07-28 era (v2 `@modelcontextprotocol/server` and `/node`): no sessions, every request
 * carries its `_meta` envelope and is authenticated on its own. One `createMcpHandler` per tenant
 * (its listen router holds that tenant's `subscriptions/listen` streams, so a change reaches that
 * tenant only); the per-request server it asks for is a low-level `Server` whose handlers read
 * the precomputed tool lists of the ToolSurface, so no schema is converted per request.
 */
@Injectable()
export class ModernStrategy implements ServingStrategy, OnModuleInit {
  readonly era = '2026-07-28' as const;
  readonly transport = 'streamable-http' as const;
  private readonly logger = new Logger('Mcp2026');
  private readonly handlers = new Map<string, McpHttpHandler>();
  private readonly listens = new Map<string, Set<ListenStream>>();

  constructor(
    private readonly surface: ToolSurface,
    private readonly bodies: McpBodies,
    private readonly changes: ChangeFeed,
  ) {}

  onModuleInit(): void {
    this.changes.subscribe((c) => {
      switch (c.kind) {
        case 'grants':
          this.handlers.get(c.tenantId)?.notify.toolsChanged();
          break;
        case 'key':
          // Its streams end (a revoked key cannot reconnect); the others may see a new list.
          for (const s of [...(this.listens.get(c.tenantId) ?? [])]) {
            if (s.keyId === c.keyId) s.end();
          }
          this.handlers.get(c.tenantId)?.notify.toolsChanged();
          break;
        case 'tenant':
          // Suspension, deletion or a new posture: its listen streams end gracefully, and the
          // clients' next requests meet the tenant as it is now.
          this.drop(c.tenantId);
          break;
        case 'all':
          for (const h of this.handlers.values()) h.notify.toolsChanged();
          break;
      }
    });
  }

  claims(x: McpExchange): boolean {
    if (x.endpoint !== 'mcp' || x.req.method !== 'POST' || !x.req.bodyRead) return false;
    return this.classify(x).kind !== 'legacy';
  }

  async serve(x: McpExchange): Promise<void> {
    const { req, res } = x;
    if (req.method === 'POST' && !(await this.bodies.receive(x, 'request'))) return;
    const route = this.classify(x);
    if (route.kind === 'modern' && route.messageKind === 'request') {
      const { method, params } = route.message;
      const name = (params as { name?: unknown } | undefined)?.name;
      // Only when the header agrees: otherwise the SDK answers -32020, and a lying header can
      // never stand in for the body's name.
      if (
        method === 'tools/call' &&
        typeof name === 'string' &&
        header(x, 'mcp-name')?.trim() === name
      ) {
        if (!(await this.surface.precheck(req, res, this.era, name))) return;
      }
      if (method === 'subscriptions/listen') this.track(x);
    }
    attachAuth(req);
    await serveWebExchange(this.handlerFor(req.tenant), req, res, req.body);
  }

  /** Ends every listen stream gracefully (shutdown); nothing is served after. */
  async closeAll(): Promise<void> {
    const all = [...this.handlers.values()];
    this.handlers.clear();
    await Promise.all(all.map((h) => h.close()));
  }

  private classify(x: McpExchange): InboundClassificationOutcome {
    let outcome = classified.get(x.req);
    if (!outcome) {
      outcome = classifyInboundRequest({
        httpMethod: x.req.method,
        protocolVersionHeader: header(x, 'mcp-protocol-version'),
        mcpMethodHeader: header(x, 'mcp-method'),
        mcpNameHeader: header(x, 'mcp-name'),
        body: x.req.method === 'POST' ? x.req.body : undefined,
      });
      classified.set(x.req, outcome);
    }
    return outcome;
  }

  private track({ req, res }: McpExchange): void {
    markLongLived(req);
    const streams = this.listens.get(req.tenant.id) ?? new Set<ListenStream>();
    this.listens.set(req.tenant.id, streams);
    const stream: ListenStream = { keyId: req.user.keyId, end: () => res.destroy() };
    streams.add(stream);
    // A stream is authenticated once, when it opens: it must not outlive its credential.
    const expiresAt = req.user.expiresAt;
    const expiry =
      expiresAt === undefined
        ? undefined
        : setTimeout(stream.end, Math.min(Math.max(0, expiresAt - Date.now()), MAX_TIMER_MS));
    expiry?.unref();
    res.once('close', () => {
      clearTimeout(expiry);
      streams.delete(stream);
      if (streams.size === 0 && this.listens.get(req.tenant.id) === streams) {
        this.listens.delete(req.tenant.id);
      }
    });
  }

  private handlerFor(tenant: Tenant): McpHttpHandler {
    let h = this.handlers.get(tenant.id);
    if (h) {
      // Refresh its place: the map's order is least recently used first.
      this.handlers.delete(tenant.id);
      this.handlers.set(tenant.id, h);
      return h;
    }
    const snapshot: ToolTenant = { id: tenant.id, slug: tenant.slug };
    h = createMcpHandler(
      ({ authInfo }) => this.server(snapshot, (authInfo as PlatformAuthInfo).extra),
      {
        legacy: 'reject',
        onerror: (err) => this.logger.debug(`tenant ${tenant.slug}: ${err.message}`),
      },
    );
    this.handlers.set(tenant.id, h);
    if (this.handlers.size > MAX_TENANTS) this.drop(this.handlers.keys().next().value!);
    return h;
  }

  private drop(tenantId: string): void {
    const h = this.handlers.get(tenantId);
    if (!h) return;
    this.handlers.delete(tenantId);
    void h.close().catch(() => undefined);
  }

  /** The per-request server: a few handler registrations over precomputed data. */
  private server(tenant: ToolTenant, auth: PlatformAuthInfo['extra']): Server {
    const { principal } = auth;
    const requestId = typeof auth.requestId === 'string' ? auth.requestId : undefined;
    const server = new Server(SERVER_INFO, {
      capabilities: CAPABILITIES,
      instructions: `Tools of the "${tenant.slug}" tenant. Call whoami to see your scopes.`,
      cacheHints: CACHE_HINTS,
      jsonSchemaValidator,
    });
    server.setRequestHandler('tools/list', async () => ({
      tools: this.surface.visibleTools(
        principal,
        await this.surface.grantsOf(tenant.id),
      ) as unknown as Tool[],
    }));
    server.setRequestHandler('tools/call', async (request, ctx) => {
      const name = request.params.name;
      const outcome = await this.surface.call({
        era: this.era,
        tenant,
        principal,
        name,
        args: request.params.arguments,
        requestId,
        context: context(ctx, name),
      });
      if (outcome.kind === 'result') return outcome.result as CallToolResult;
      if (outcome.kind === 'insufficient_scope') {
        throw new ProtocolError(
          ProtocolErrorCode.InvalidRequest,
          `insufficient scope: ${name} needs ${outcome.scopes.join(' ')}`,
        );
      }
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${name} not found`);
    });
    server.setRequestHandler('prompts/list', () => ({ prompts: [] }));
    server.setRequestHandler('resources/list', () => ({ resources: [] }));
    server.setRequestHandler('resources/templates/list', () => ({ resourceTemplates: [] }));
    server.setRequestHandler('resources/read', (request) => {
      throw new ResourceNotFoundError(request.params.uri);
    });
    return server;
  }
}

function context(
  ctx: ServerContext,
  toolName: string,
): Pick<ToolContext, 'signal' | 'progress' | 'log'> {
  const token = ctx.mcpReq._meta?.progressToken;
  return {
    // Closing the response stream is the cancellation in this era: it aborts this signal.
    signal: ctx.mcpReq.signal,
    progress: async (progress, total, message) => {
      if (token === undefined) return;
      await ctx.mcpReq.notify({
        method: 'notifications/progress',
        params: { progressToken: token, progress, total, message },
      });
    },
    // A no-op unless the request's envelope carried a logLevel at or below this one.
    log: (level, data) => ctx.mcpReq.log(level, data, toolName),
  };
}
