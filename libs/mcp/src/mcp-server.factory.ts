import { Injectable } from '@nestjs/common';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  type JSONRPCMessage,
  ListToolsRequestSchema,
  McpError,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Principal } from '@app/auth';
import { ToolGrantsService } from '@app/tenancy';
import { ToolCallRecorder } from './tool-call-recorder';
import {
  decideToolAccess,
  invokeTool,
  TenantToolGrants,
  ToolContext,
  ToolRegistry,
  ToolTenant,
} from '@app/tools';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * Every SDK Server builds its own Ajv instance unless given one (tens of KiB per session); the
 * platform never asks clients for schema-validated input (elicitation), so one is shared.
 */
const jsonSchemaValidator = new AjvJsonSchemaValidator();

export const SERVER_INFO = { name: 'mcp-platform', version: '0.1.0' } as const;

/** The principal of the HTTP request carrying this message, put there by the controller. */
export function principalOf(extra: Extra): Principal {
  const principal = extra.authInfo?.extra?.principal as Principal | undefined;
  if (!principal)
    throw new McpError(ErrorCode.InternalError, 'request reached the server unauthenticated');
  return principal;
}

function requestIdOf(extra: Extra): string | undefined {
  const id = extra.authInfo?.extra?.requestId;
  return typeof id === 'string' ? id : undefined;
}

export function notFound(name: string): McpError {
  return new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`);
}

/**
 * Builds the SDK server for one tenant. Construction only registers two handlers; tool
 * definitions and their JSON Schemas come precomputed from the registry, so building one per
 * request (stateless mode) stays cheap.
 */
@Injectable()
export class McpServerFactory {
  private readonly listed = new WeakMap<TenantToolGrants, Map<string, readonly Tool[]>>();
  private readonly listedJson = new WeakMap<readonly Tool[], string>();

  constructor(
    private readonly registry: ToolRegistry,
    private readonly grants: ToolGrantsService,
    private readonly recorder: ToolCallRecorder,
  ) {}

  create(tenant: ToolTenant): Server {
    const server = new Server(SERVER_INFO, {
      capabilities: { tools: { listChanged: true }, logging: {} },
      instructions: `Tools of the "${tenant.slug}" tenant. Call whoami to see your scopes.`,
      jsonSchemaValidator,
    });

    server.setRequestHandler(ListToolsRequestSchema, async (_req, extra) => ({
      // The SDK passes the result through untouched, so the frozen cached array reaches stringify.
      tools: this.visibleTools(
        principalOf(extra),
        await this.grants.forTenant(tenant.id),
      ) as Tool[],
    }));

    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      const principal = principalOf(extra);
      const name = req.params.name;
      const requestId = requestIdOf(extra);
      const tool = this.registry.get(name);
      const decision = decideToolAccess(principal, tool, await this.grants.forTenant(tenant.id));
      if (decision.kind !== 'allowed' || !tool) {
        this.recorder.record({
          tenant,
          principal,
          tool: name,
          outcome: 'denied',
          requestId,
          detail: { reason: decision.kind },
        });
        if (decision.kind === 'insufficient_scope') {
          throw new McpError(
            ErrorCode.InvalidRequest,
            `insufficient scope: ${name} needs ${decision.scopes.join(' ')}`,
          );
        }
        throw notFound(name);
      }
      const started = performance.now();
      const result = await invokeTool(
        tool,
        req.params.arguments,
        this.context(server, tenant, principal, tool.name, extra),
      );
      this.recorder.record({
        tenant,
        principal,
        tool: name,
        outcome: result.isError ? 'error' : 'ok',
        durationMs: performance.now() - started,
        requestId,
      });
      return result;
    });
    return server;
  }

  /**
   * The tools this principal may see, decided by the one policy. The answer depends only on the
   * tenant's grants (a new map whenever they change) and the principal's scopes and tool list, so
   * it is kept per grants map and principal shape, as a frozen array whose JSON is kept too.
   */
  visibleTools(principal: Principal, grants: TenantToolGrants): readonly Tool[] {
    let byShape = this.listed.get(grants);
    if (!byShape) this.listed.set(grants, (byShape = new Map<string, readonly Tool[]>()));
    // JSON, not a joined string: scopes from an IdP may contain any separator.
    const shape = JSON.stringify([principal.scopes, principal.tools ?? null]);
    let tools = byShape.get(shape);
    if (!tools) {
      const visible: Tool[] = [];
      for (const tool of this.registry.all()) {
        if (decideToolAccess(principal, tool, grants).kind === 'allowed') {
          visible.push(tool.listEntry);
        }
      }
      tools = Object.freeze(visible);
      // Principal shapes come from credentials (JWT scopes among them): keep the map bounded.
      if (byShape.size >= 256) byShape.clear();
      byShape.set(shape, tools);
    }
    return tools;
  }

  /** JSON of a response; a tools/list answer reuses the JSON of its (cached, frozen) tool list. */
  stringify(message: JSONRPCMessage): string {
    if ('result' in message) {
      const result = message.result as { tools?: unknown };
      if (
        Array.isArray(result.tools) &&
        Object.isFrozen(result.tools) &&
        Object.keys(result).length === 1
      ) {
        const tools = result.tools as readonly Tool[];
        let json = this.listedJson.get(tools);
        if (json === undefined) this.listedJson.set(tools, (json = JSON.stringify(tools)));
        return `{"result":{"tools":${json}},"jsonrpc":"2.0","id":${JSON.stringify(message.id)}}`;
      }
    }
    return JSON.stringify(message);
  }

  private context(
    server: Server,
    tenant: ToolTenant,
    principal: Principal,
    toolName: string,
    extra: Extra,
  ): ToolContext {
    const progressToken = extra._meta?.progressToken;
    return {
      tenant,
      principal,
      signal: extra.signal,
      progress: async (progress, total, message) => {
        if (progressToken === undefined) return;
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken, progress, total, message },
        });
      },
      // Inside a session the log goes to that session's server (its stream and its
      // logging/setLevel), also when a shared server answered the request itself.
      log: (level, data) => {
        const session = extra.authInfo?.extra?.session as
          { id: string; server: Server } | undefined;
        return (session?.server ?? server).sendLoggingMessage(
          { level, logger: toolName, data },
          session?.id ?? extra.sessionId,
        );
      },
    };
  }
}
