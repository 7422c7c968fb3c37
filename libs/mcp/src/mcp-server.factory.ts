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
import type { ToolContext, ToolListEntry, ToolTenant } from '@app/tools';
import { SERVER_INFO } from './server-info';
import { ToolSurface } from './tool-surface';

export { SERVER_INFO };

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * Every SDK Server builds its own Ajv instance unless given one (tens of KiB per session); the
 * platform never asks clients for schema-validated input (elicitation), so one is shared.
 */
const jsonSchemaValidator = new AjvJsonSchemaValidator();

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
 * Builds the 2025-era SDK server (v1 `@modelcontextprotocol/sdk`) for one tenant. Construction
 * only registers two handlers; tool lists and calls come from the SDK-neutral ToolSurface, so
 * building one per request (stateless mode) stays cheap.
 */
@Injectable()
export class McpServerFactory {
  constructor(private readonly surface: ToolSurface) {}

  create(tenant: ToolTenant): Server {
    const server = new Server(SERVER_INFO, {
      capabilities: { tools: { listChanged: true }, logging: {} },
      instructions: `Tools of the "${tenant.slug}" tenant. Call whoami to see your scopes.`,
      jsonSchemaValidator,
    });

    server.setRequestHandler(ListToolsRequestSchema, async (_req, extra) => ({
      // The SDK passes the result through untouched, so the frozen cached array reaches stringify.
      tools: this.surface.visibleTools(
        principalOf(extra),
        await this.surface.grantsOf(tenant.id),
      ) as Tool[],
    }));

    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      const name = req.params.name;
      const outcome = await this.surface.call({
        era: '2025',
        tenant,
        principal: principalOf(extra),
        name,
        args: req.params.arguments,
        requestId: requestIdOf(extra),
        context: this.context(server, name, extra),
      });
      if (outcome.kind === 'result') return outcome.result;
      if (outcome.kind === 'insufficient_scope') {
        throw new McpError(
          ErrorCode.InvalidRequest,
          `insufficient scope: ${name} needs ${outcome.scopes.join(' ')}`,
        );
      }
      throw notFound(name);
    });
    return server;
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
        const json = this.surface.toolsJson(result.tools as readonly ToolListEntry[]);
        return `{"result":{"tools":${json}},"jsonrpc":"2.0","id":${JSON.stringify(message.id)}}`;
      }
    }
    return JSON.stringify(message);
  }

  private context(
    server: Server,
    toolName: string,
    extra: Extra,
  ): Pick<ToolContext, 'signal' | 'progress' | 'log'> {
    const progressToken = extra._meta?.progressToken;
    return {
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
