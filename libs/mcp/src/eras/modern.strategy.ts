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
  type GetPromptResult,
  type ReadResourceResult,
  type Prompt,
  CLIENT_CAPABILITIES_META_KEY,
} from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import { ChangeFeed, protocolPosture, type Tenant, TenantsService } from '@app/tenancy';
import {
  type CapabilityContext,
  type ClientCapabilityName,
  InputAnswers,
  type InputRequired,
  type InputResponse,
  type ToolContext,
  type ToolTenant,
} from '@app/tools';
import { CapabilitySurface } from '../capability-surface';
import { RequestStateRefused, RequestStateSealer, type StateBinding } from '../request-state';
import { PRECHECKED } from './legacy-precheck';
import { attachAuth, McpBodies, type McpExchange, type PlatformAuthInfo } from '../mcp-exchange';
import { SERVER_INFO } from '../server-info';
import { ToolSurface } from '../tool-surface';
import { sendJsonRpcError } from '../jsonrpc';
import { ListenStreams } from './listen-streams';
import type { ServingStrategy } from './serving-strategy';
import { serveWebExchange } from './web-exchange';

interface TenantHandler {
  handler: McpHttpHandler;
  /** Requests being answered, listen streams aside: a retired handler closes when none is left. */
  inFlight: number;
  retired: boolean;
}

const MAX_TENANTS = 5_000;
const JSONRPC_HEADER_MISMATCH = -32020;

/** One validator for every per-request server: a new one per server would cost each request. */
const jsonSchemaValidator = new AjvJsonSchemaValidator();

/**
 * Every list a principal sees is decided by the tenant's grants and the credential, so each of
 * them can change, and a listen stream is told when one may have (`notifyListsChanged`).
 */
const CAPABILITIES = {
  tools: { listChanged: true },
  logging: {},
  prompts: { listChanged: true },
  resources: { listChanged: true },
  completions: {},
};

/**
 * A grant or a credential changed: any of the tools, prompts and resources lists may now differ
 * (grants name all three kinds), so every listen stream that asked about one is told.
 */
function notifyListsChanged(h: TenantHandler | undefined): void {
  if (!h) return;
  h.handler.notify.promptsChanged();
  h.handler.notify.resourcesChanged();
  h.handler.notify.toolsChanged();
}

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
  // A read is the principal's, and what it reads may change at any moment (a note edited).
  'resources/read': LIST_HINT,
} as const;

const classified = new WeakMap<object, InboundClassificationOutcome>();

const header = (x: McpExchange, name: string): string | undefined => {
  const value = x.req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

const BASE64_SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;

/**
 * What an `Mcp-Name` header names, read as the SDK reads it: spaces and tabs around it dropped,
 * a `=?base64?…?=` value decoded (canonical Base64 of UTF-8 only; anything else names nothing).
 */
function nameHeader(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.replace(/^[ \t]+|[ \t]+$/g, '');
  const encoded = BASE64_SENTINEL.exec(trimmed)?.[1];
  if (encoded === undefined) return trimmed;
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.toString('base64') !== encoded) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The 2026-07-28 era (v2 `@modelcontextprotocol/server`): no sessions, every request
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
  private readonly handlers = new Map<string, TenantHandler>();
  private readonly listens = new ListenStreams();

  constructor(
    private readonly surface: ToolSurface,
    private readonly bodies: McpBodies,
    private readonly changes: ChangeFeed,
    private readonly tenants: TenantsService,
    private readonly capabilities: CapabilitySurface,
    private readonly sealer: RequestStateSealer,
  ) {}

  onModuleInit(): void {
    this.changes.subscribe((c) => {
      switch (c.kind) {
        case 'grants':
        case 'catalog':
          notifyListsChanged(this.handlers.get(c.tenantId));
          break;
        case 'key':
          // Its streams end (a revoked key cannot listen again); the others may see new lists.
          this.listens.keyChanged(c.tenantId, c.keyId);
          notifyListsChanged(this.handlers.get(c.tenantId));
          break;
        case 'tenant':
          this.listens.tenantChanged(c.tenantId);
          this.recheck(c.tenantId, c.slug, c.deleted === true).catch((err: unknown) =>
            this.logger.warn(`checking tenant ${c.slug} after a change: ${(err as Error).message}`),
          );
          break;
        case 'all':
          this.listens.allChanged();
          for (const h of this.handlers.values()) notifyListsChanged(h);
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
    let listen = false;
    if (route.kind === 'modern' && route.messageKind === 'request') {
      const { id, method, params } = route.message;
      const name = (params as { name?: unknown } | undefined)?.name;
      if (method === 'tools/call' && typeof name === 'string') {
        // The scope check reads the body's name; a header naming anything else is refused here,
        // so no tools/call reaches the SDK without that check.
        const named = nameHeader(header(x, 'mcp-name'));
        if (named !== name) {
          return sendJsonRpcError(
            res,
            400,
            JSONRPC_HEADER_MISMATCH,
            named === undefined
              ? `Bad Request: a tools/call needs an Mcp-Name header naming its tool (${name})`
              : `Bad Request: the Mcp-Name header does not name the tool the body calls (${name})`,
            id,
          );
        }
      }
      if (
        PRECHECKED.has(method) &&
        !(await this.surface.precheck(req, res, this.era, method, params))
      ) {
        return;
      }
      if (method === 'subscriptions/listen') {
        if (!this.listens.open(x, id)) return;
        listen = true;
      }
    }
    attachAuth(req);
    const h = this.handlerFor(req.tenant);
    if (!listen) {
      h.inFlight += 1;
      res.once('close', () => {
        h.inFlight -= 1;
        if (h.retired && h.inFlight === 0) this.close(h);
      });
    }
    await serveWebExchange(h.handler, req, res, req.body);
  }

  /** Ends every listen stream gracefully (shutdown, once ordinary requests are done). */
  async closeAll(): Promise<void> {
    const all = [...this.handlers.values()];
    this.handlers.clear();
    await Promise.all(all.map((h) => h.handler.close()));
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

  /**
   * A suspended or deleted tenant, or one that no longer serves this era, has its listen streams
   * ended gracefully; any other change (a rename, new limits) leaves them, and every request,
   * alone.
   */
  private async recheck(tenantId: string, slug: string, deleted: boolean): Promise<void> {
    if (!this.handlers.has(tenantId)) return;
    const tenant = deleted ? null : await this.tenants.resolve(slug);
    if (tenant?.status === 'active' && protocolPosture(tenant) !== 'legacy-only') return;
    this.retire(tenantId);
  }

  private handlerFor(tenant: Tenant): TenantHandler {
    let h = this.handlers.get(tenant.id);
    if (h) {
      // Refresh its place: the map's order is least recently used first.
      this.handlers.delete(tenant.id);
      this.handlers.set(tenant.id, h);
      return h;
    }
    const snapshot: ToolTenant = { id: tenant.id, slug: tenant.slug };
    const handler = createMcpHandler(
      ({ authInfo }) => this.server(snapshot, (authInfo as PlatformAuthInfo).extra),
      {
        legacy: 'reject',
        onerror: (err) => this.logger.debug(`tenant ${tenant.slug}: ${err.message}`),
      },
    );
    h = { handler, inFlight: 0, retired: false };
    this.handlers.set(tenant.id, h);
    if (this.handlers.size > MAX_TENANTS) this.retire(this.handlers.keys().next().value!);
    return h;
  }

  /**
   * New requests get a new handler; this one closes (its listen streams end with their final
   * result) once the requests it is answering are done, so none of them is cut off.
   */
  private retire(tenantId: string): void {
    const h = this.handlers.get(tenantId);
    if (!h) return;
    this.handlers.delete(tenantId);
    h.retired = true;
    if (h.inFlight === 0) this.close(h);
  }

  private close(h: TenantHandler): void {
    void h.handler.close().catch(() => undefined);
  }

  private binding(
    tenant: ToolTenant,
    principal: { id: string },
    method: string,
    target: string,
    args: unknown,
  ): StateBinding {
    return { tenantId: tenant.id, principalId: principal.id, method, target, args: args ?? null };
  }

  /** Every answer so far: the earlier rounds' (sealed in the state) and this retry's own. */
  private async answersOf(ctx: ServerContext, binding: StateBinding): Promise<InputAnswers> {
    const state = ctx.mcpReq.requestState<unknown>();
    let earlier: Record<string, InputResponse> = {};
    if (state !== undefined) {
      if (typeof state !== 'string') {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'requestState must be a string');
      }
      try {
        earlier = await this.sealer.open(state, binding);
      } catch (err) {
        if (err instanceof RequestStateRefused) {
          throw new ProtocolError(ProtocolErrorCode.InvalidParams, err.message, {
            reason: 'invalid_request_state',
          });
        }
        throw err;
      }
    }
    const now = ctx.mcpReq.inputResponses as Record<string, InputResponse> | undefined;
    return new InputAnswers(earlier).with(now);
  }

  /**
   * The `input_required` result: what the handler asks, and every answer so far sealed for the
   * retry. The SDK refuses it with -32021 (HTTP 400) when the envelope lacks a capability asked.
   */
  private inputRequired(input: InputRequired, binding: StateBinding, answers: InputAnswers) {
    return {
      resultType: 'input_required' as const,
      inputRequests: input.requests,
      requestState: this.sealer.seal(binding, { ...answers.toJSON() }),
    };
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
      tools: (await this.surface.visibleTools(principal, tenant.id)) as unknown as Tool[],
    }));
    server.setRequestHandler('tools/call', async (request, ctx) => {
      const name = request.params.name;
      const binding = this.binding(tenant, principal, 'tools/call', name, request.params.arguments);
      const answers = await this.answersOf(ctx, binding);
      const outcome = await this.surface.call({
        era: this.era,
        tenant,
        principal,
        name,
        args: request.params.arguments,
        requestId,
        context: { ...context(ctx, name), ...asking(ctx, answers) },
      });
      if (outcome.kind === 'result') return outcome.result as CallToolResult;
      if (outcome.kind === 'input_required') {
        return this.inputRequired(outcome.input, binding, answers) as unknown as CallToolResult;
      }
      if (outcome.kind === 'insufficient_scope') {
        throw new ProtocolError(
          ProtocolErrorCode.InvalidRequest,
          `insufficient scope: ${name} needs ${outcome.scopes.join(' ')}`,
        );
      }
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${name} not found`);
    });
    server.setRequestHandler('resources/list', async () => ({
      resources: this.capabilities.resources(
        principal,
        await this.capabilities.grantsOf(tenant.id),
      ),
    }));
    server.setRequestHandler('resources/templates/list', async () => ({
      resourceTemplates: this.capabilities.templates(
        principal,
        await this.capabilities.grantsOf(tenant.id),
      ),
    }));
    server.setRequestHandler('resources/read', async (request, ctx) => {
      const { uri } = request.params;
      const binding = this.binding(tenant, principal, 'resources/read', uri, null);
      const answers = await this.answersOf(ctx, binding);
      const use = { era: this.era, tenant, principal, requestId, context: asking(ctx, answers) };
      const outcome = await this.capabilities.read(use, uri);
      if (outcome.kind === 'result') return { contents: outcome.contents };
      if (outcome.kind === 'input_required') {
        return this.inputRequired(outcome.input, binding, answers) as unknown as ReadResourceResult;
      }
      // A resource the principal may not read is answered like one that does not exist.
      throw new ResourceNotFoundError(uri);
    });
    server.setRequestHandler('prompts/list', async () => ({
      prompts: this.capabilities.prompts(
        principal,
        await this.capabilities.grantsOf(tenant.id),
      ) as Prompt[],
    }));
    server.setRequestHandler('prompts/get', async (request, ctx) => {
      const { name } = request.params;
      const args = request.params.arguments;
      const binding = this.binding(tenant, principal, 'prompts/get', name, args);
      const answers = await this.answersOf(ctx, binding);
      const use = { era: this.era, tenant, principal, requestId, context: asking(ctx, answers) };
      const outcome = await this.capabilities.getPrompt(use, name, args);
      switch (outcome.kind) {
        case 'result':
          return outcome.result as GetPromptResult;
        case 'input_required':
          return this.inputRequired(outcome.input, binding, answers) as unknown as GetPromptResult;
        case 'invalid':
          throw new ProtocolError(ProtocolErrorCode.InvalidParams, outcome.message);
        case 'insufficient_scope':
        case 'hidden':
          throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Prompt ${name} not found`);
      }
    });
    server.setRequestHandler('completion/complete', async (request) => {
      const { ref, argument, context: completionContext } = request.params;
      const completion = await this.capabilities.complete(
        { tenant, principal },
        ref,
        argument,
        completionContext?.arguments,
      );
      return { completion: { ...completion } };
    });
    return server;
  }
}

/** What this request's envelope says the client can be asked, and the answers it brought. */
function asking(
  ctx: ServerContext,
  answers: InputAnswers,
): Pick<CapabilityContext, 'signal' | 'answers' | 'clientCan'> {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const declared = envelope?.[CLIENT_CAPABILITIES_META_KEY] as
    Partial<Record<ClientCapabilityName, unknown>> | undefined;
  return {
    signal: ctx.mcpReq.signal,
    answers,
    clientCan: (capability) => !!declared?.[capability],
  };
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
