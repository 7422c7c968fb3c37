import { Injectable } from '@nestjs/common';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  type GetPromptResult,
  type JSONRPCMessage,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListRootsResultSchema,
  ListToolsRequestSchema,
  McpError,
  type Prompt,
  ReadResourceRequestSchema,
  type ServerNotification,
  type ServerRequest,
  SubscribeRequestSchema,
  type Tool,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Principal } from '@app/auth';
import {
  type CapabilityContext,
  InputAnswers,
  type InputRequest,
  type InputRequired,
  type InputResponse,
  type ToolContext,
  type ToolListEntry,
  type ToolTenant,
} from '@app/tools';
import { CapabilitySurface } from './capability-surface';
import { MAX_SUBSCRIPTIONS_PER_SESSION, ResourceSubscriptions } from './resource-subscriptions';
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

/** How many rounds of questions one call may put to the client before it is given up. */
const MAX_INPUT_ROUNDS = 8;

const RESULT_SCHEMA = {
  'elicitation/create': ElicitResultSchema,
  'sampling/createMessage': CreateMessageResultSchema,
  'roots/list': ListRootsResultSchema,
} as const;

type Pending = { kind: 'input_required'; input: InputRequired };
const isPending = (o: { kind: string }): o is Pending => o.kind === 'input_required';

/**
 * Never reaches a client: the shared server's answer meaning "serve this through the session's
 * own transport", which can put questions to the client on the request's stream.
 */
export const NEEDS_SESSION_STREAM = -32098;

function sessionOf(extra: Extra): { id: string; server?: Server } | undefined {
  return extra.authInfo?.extra?.session as { id: string; server?: Server } | undefined;
}

/**
 * What the client declared at initialize, read from the server holding its session; nothing
 * without a session (stateless mode, or a session held by another replica), where no answer could
 * find its way back.
 */
function declaredBy(server: Server, extra: Extra) {
  const session = sessionOf(extra);
  if (session) return session.server?.getClientCapabilities();
  return extra.sessionId ? server.getClientCapabilities() : undefined;
}

/**
 * Builds the 2025-era SDK server (v1 `@modelcontextprotocol/sdk`) for one tenant. Construction
 * only registers handlers; tool lists and calls, resources, prompts and completion come from the
 * SDK-neutral ToolSurface and CapabilitySurface, so building one per session (or per request in
 * stateless mode) stays cheap.
 */
@Injectable()
export class McpServerFactory {
  constructor(
    private readonly surface: ToolSurface,
    private readonly capabilities: CapabilitySurface,
    private readonly subscriptions: ResourceSubscriptions,
  ) {}

  create(tenant: ToolTenant): Server {
    const server = new Server(SERVER_INFO, {
      capabilities: {
        tools: { listChanged: true },
        logging: {},
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: true },
        completions: {},
      },
      instructions: `Tools of the "${tenant.slug}" tenant. Call whoami to see your scopes.`,
      jsonSchemaValidator,
    });

    server.setRequestHandler(ListToolsRequestSchema, async (_req, extra) => ({
      // The SDK passes the result through untouched, so the frozen cached array reaches stringify.
      tools: (await this.surface.visibleTools(principalOf(extra), tenant.id)) as Tool[],
    }));

    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      const name = req.params.name;
      const principal = principalOf(extra);
      const outcome = await this.fulfil(server, extra, `tool ${name}`, (answers) =>
        this.surface.call({
          era: '2025',
          tenant,
          principal,
          name,
          args: req.params.arguments,
          requestId: requestIdOf(extra),
          context: { ...this.context(server, name, extra), ...this.asking(server, extra, answers) },
        }),
      );
      if (outcome.kind === 'result') return outcome.result;
      if (outcome.kind === 'insufficient_scope') {
        throw new McpError(
          ErrorCode.InvalidRequest,
          `insufficient scope: ${name} needs ${outcome.scopes.join(' ')}`,
        );
      }
      throw notFound(name);
    });

    server.setRequestHandler(ListResourcesRequestSchema, async (_req, extra) => ({
      resources: this.capabilities.resources(
        principalOf(extra),
        await this.capabilities.grantsOf(tenant.id),
      ),
    }));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, async (_req, extra) => ({
      resourceTemplates: this.capabilities.templates(
        principalOf(extra),
        await this.capabilities.grantsOf(tenant.id),
      ),
    }));
    server.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
      const { uri } = req.params;
      const outcome = await this.fulfil(server, extra, `resource ${uri}`, (answers) =>
        this.capabilities.read(this.use(tenant, server, extra, answers), uri),
      );
      if (outcome.kind === 'result') return { contents: outcome.contents };
      // A resource the principal may not read is answered like one that does not exist.
      throw new McpError(ErrorCode.InvalidParams, `Resource ${uri} not found`, { uri });
    });
    // Subscriptions are per session (this server is the session's own): a URI the principal may
    // not read cannot be watched, and one it may is told of changes (`resources/updated`). Reading
    // is still checked on every read, so a subscription grants nothing.
    server.setRequestHandler(SubscribeRequestSchema, async (req, extra) => {
      const { uri } = req.params;
      if (!(await this.capabilities.mayRead(tenant.id, principalOf(extra), uri))) {
        throw new McpError(ErrorCode.InvalidParams, `Resource ${uri} not found`, { uri });
      }
      if (!this.subscriptions.add(server, uri)) {
        throw new McpError(
          ErrorCode.InvalidRequest,
          `a session may watch at most ${MAX_SUBSCRIPTIONS_PER_SESSION} resources; unsubscribe from some first`,
        );
      }
      return {};
    });
    server.setRequestHandler(UnsubscribeRequestSchema, (req) => {
      this.subscriptions.remove(server, req.params.uri);
      return {};
    });

    server.setRequestHandler(ListPromptsRequestSchema, async (_req, extra) => ({
      prompts: this.capabilities.prompts(
        principalOf(extra),
        await this.capabilities.grantsOf(tenant.id),
      ) as Prompt[],
    }));
    server.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
      const { name } = req.params;
      const outcome = await this.fulfil(server, extra, `prompt ${name}`, (answers) =>
        this.capabilities.getPrompt(
          this.use(tenant, server, extra, answers),
          name,
          req.params.arguments,
        ),
      );
      if (outcome.kind === 'result') return outcome.result as GetPromptResult;
      if (outcome.kind === 'invalid') throw new McpError(ErrorCode.InvalidParams, outcome.message);
      throw new McpError(ErrorCode.InvalidParams, `Prompt ${name} not found`);
    });
    server.setRequestHandler(CompleteRequestSchema, async (req, extra) => ({
      completion: {
        ...(await this.capabilities.complete(
          { tenant, principal: principalOf(extra) },
          req.params.ref,
          req.params.argument,
          req.params.context?.arguments,
        )),
      },
    }));
    return server;
  }

  private use(tenant: ToolTenant, server: Server, extra: Extra, answers: InputAnswers) {
    return {
      era: '2025' as const,
      tenant,
      principal: principalOf(extra),
      requestId: requestIdOf(extra),
      context: this.asking(server, extra, answers),
    };
  }

  private asking(
    server: Server,
    extra: Extra,
    answers: InputAnswers,
  ): Pick<CapabilityContext, 'signal' | 'answers' | 'clientCan'> {
    const declared = declaredBy(server, extra);
    return { signal: extra.signal, answers, clientCan: (c) => !!declared?.[c] };
  }

  /**
   * The 2025 era's way to answer a handler's `inputRequired(...)`: each request goes to the
   * client on the call's own stream (elicitation, sampling, roots, each only if the client
   * declared it at initialize), and the handler runs again with the answers, until it finishes.
   */
  private async fulfil<T extends { kind: string }>(
    server: Server,
    extra: Extra,
    label: string,
    run: (answers: InputAnswers) => Promise<T | Pending>,
  ): Promise<Exclude<T, Pending>> {
    let answers = InputAnswers.NONE;
    for (let round = 0; round < MAX_INPUT_ROUNDS; round++) {
      const out = await run(answers);
      if (!isPending(out)) return out as Exclude<T, Pending>;
      const declared = declaredBy(server, extra);
      const missing = out.input.capabilities().filter((c) => !declared?.[c]);
      if (missing.length) {
        throw new McpError(
          ErrorCode.InvalidRequest,
          `${label} needs to ask the client (${missing.join(', ')}), which this client did not ` +
            `declare${declared ? ' at initialize' : ': requests without a session cannot be asked anything'}`,
        );
      }
      const session = sessionOf(extra);
      if (session && session.server !== server) {
        // Answered as plain JSON by the tenant's shared server, which has no stream to ask on:
        // the request is served again through its session's own transport.
        throw new McpError(NEEDS_SESSION_STREAM, 'this request needs its session stream');
      }
      const got: Record<string, InputResponse> = {};
      for (const [key, request] of Object.entries(out.input.requests)) {
        got[key] = await this.ask(extra, request);
      }
      answers = answers.with(got);
    }
    throw new McpError(
      ErrorCode.InternalError,
      `${label} asked the client for input more than ${MAX_INPUT_ROUNDS} times; gave up`,
    );
  }

  private async ask(extra: Extra, request: InputRequest): Promise<InputResponse> {
    const result = await extra.sendRequest(
      { method: request.method, params: request.params } as ServerRequest,
      RESULT_SCHEMA[request.method],
      { signal: extra.signal },
    );
    return result;
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
