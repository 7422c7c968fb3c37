import { randomUUID } from 'node:crypto';
import { Controller, Delete, ForbiddenException, Get, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import {
  isInitializeRequest,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import type { IncomingMessage } from 'node:http';
import type { Response } from 'express';
import {
  Authenticated,
  AuthenticatedRequest,
  bearerChallenge,
  Principal,
  resourceMetadataUrl,
} from '@app/auth';
import { PlatformConfig, TENANT_ROUTE, tenantPath } from '@app/config';
import { BodyRefused, createJsonBodyReader } from '@app/observability';
import { Tenant, ToolGrantsService } from '@app/tenancy';
import { decideToolAccess, ToolRegistry } from '@app/tools';
import {
  isCancellation,
  isJsonBody,
  isNotification,
  isPlainRequest,
  isSimpleRequest,
  isToolsCall,
  JSONRPC_INVALID_REQUEST,
  JSONRPC_PARSE_ERROR,
  JSONRPC_SESSION_NOT_FOUND,
  sendJsonRpcError,
  writeJson,
} from './jsonrpc';
import { McpServerFactory } from './mcp-server.factory';
import { peekMethod } from './peek-method';
import { McpSession, SessionRef, SessionStore } from './session-store';
import { SharedServers } from './shared-servers';
import { ToolCallRecorder } from './tool-call-recorder';

type McpRequest = AuthenticatedRequest & {
  auth?: AuthInfo;
  tenant: Tenant;
  user: Principal;
  /** Size of the JSON body as received, once read. */
  bodyBytes?: number;
};

type BodyReader = ReturnType<typeof createJsonBodyReader>;

const SESSION_HEADER = 'mcp-session-id';
const JSONRPC_INVALID_PARAMS = -32602;

/**
 * The hosted MCP endpoint of each tenant. The global guard has already resolved the tenant and
 * authenticated this very request; here the HTTP-level rules run, then the SDK transport.
 */
@ApiExcludeController()
@Authenticated('tenant-member')
@Controller(TENANT_ROUTE)
export class McpController {
  /** Requests outside a session: none may carry more than the largest tool-argument limit. */
  private readonly readRequest: BodyReader;
  /**
   * Messages inside a session may be responses to the server's own requests (sampling, say),
   * larger than any request; a request among them is still held to the argument limit.
   */
  private readonly readSessionMessage: BodyReader;

  constructor(
    private readonly config: PlatformConfig,
    private readonly factory: McpServerFactory,
    private readonly sessions: SessionStore,
    private readonly registry: ToolRegistry,
    private readonly grants: ToolGrantsService,
    private readonly recorder: ToolCallRecorder,
    private readonly shared: SharedServers,
  ) {
    const measure = (raw: Buffer, req: IncomingMessage & { bodyBytes?: number }) => {
      req.bodyBytes = raw.length;
    };
    const refuse = (bytes: number, limit: number) => ({
      status: 413,
      code: JSONRPC_INVALID_PARAMS,
      message: tooLarge(bytes, limit),
    });
    this.readRequest = createJsonBodyReader({
      timeoutMs: config.requestTimeoutMs,
      limit: () => registry.largestArgumentBytes(),
      tooLarge: refuse,
      inspect: measure,
    });
    this.readSessionMessage = createJsonBodyReader({
      timeoutMs: config.requestTimeoutMs,
      inspect: (raw, req) => {
        measure(raw, req);
        // Judged from the bytes, before parsing costs anything: a response has no method.
        const largest = registry.largestArgumentBytes();
        if (raw.length > largest && peekMethod(raw) !== null) {
          throw new BodyRefused(413, JSONRPC_INVALID_PARAMS, tooLarge(raw.length, largest));
        }
      },
    });
  }

  @Post('mcp')
  async post(@Req() req: McpRequest, @Res() res: Response): Promise<void> {
    const sessionId = this.config.mcpStateless ? undefined : req.headers[SESSION_HEADER];
    if (typeof sessionId !== 'string') {
      if (!(await this.receive(req, res, this.readRequest))) return;
      if (!(await this.precheck(req, res))) return;
      if (this.config.mcpStateless) {
        return isJsonBody(req) ? this.serveDirect(req, res) : this.serveStateless(req, res);
      }
      if (!isInitializeRequest(req.body)) {
        return sendJsonRpcError(
          res,
          400,
          JSONRPC_INVALID_REQUEST,
          'Bad Request: no Mcp-Session-Id header; start with an initialize request',
        );
      }
      return this.startSession(req, res);
    }
    // The session is found (or not) from the headers, before the body is read.
    const session = this.sessions.find(sessionId, req.tenant.id, req.user.id);
    const shared =
      session || !req.is('application/json')
        ? undefined
        : await this.sessions.findShared(sessionId, req.tenant.id, req.user.id);
    if (session ? session.kind !== 'streamable' : !shared) return this.sessionNotFound(res);
    if (!(await this.receive(req, res, this.readSessionMessage))) return;
    if (!(await this.precheck(req, res))) return;
    const json = isJsonBody(req);
    if (!session) return this.postToSharedSession(req, res, sessionId, shared!, json);
    if (json && isPlainRequest(req.body)) return this.serveDirect(req, res, session);
    if (json && isCancellation(req.body)) {
      // The request may be one the shared server is answering; it ignores ids it does not hold.
      (await this.shared.for(req.tenant)).dispatch(req.body, { authInfo: req.auth }, session.id);
    }
    await (session.transport as StreamableHTTPServerTransport).handleRequest(req, res, req.body);
  }

  @Get('mcp')
  async stream(@Req() req: McpRequest, @Res() res: Response): Promise<void> {
    await this.forwardToSession(req, res);
  }

  @Delete('mcp')
  async end(@Req() req: McpRequest, @Res() res: Response): Promise<void> {
    await this.forwardToSession(req, res);
  }

  /** Legacy HTTP+SSE transport (protocol 2024-11-05): the event stream. */
  @Get('sse')
  async sse(@Req() req: McpRequest, @Res() res: Response): Promise<void> {
    this.attachAuth(req);
    const transport = new SSEServerTransport(tenantPath(req.tenant.slug, 'messages'), res);
    const server = this.factory.create(req.tenant);
    this.sessions.add({
      ...this.owner(req),
      kind: 'sse',
      id: transport.sessionId,
      server,
      transport,
    });
    transport.onclose = () => this.sessions.remove(transport.sessionId);
    await server.connect(transport);
  }

  /** Legacy HTTP+SSE transport: client-to-server messages. */
  @Post('messages')
  async messages(@Req() req: McpRequest, @Res() res: Response): Promise<void> {
    const sessionId = typeof req.query.sessionId === 'string' ? req.query.sessionId : '';
    const session = this.sessionFor(req, res, sessionId, 'sse');
    if (!session) return;
    if (!(await this.receive(req, res, this.readSessionMessage))) return;
    if (!(await this.precheck(req, res))) return;
    await (session.transport as SSEServerTransport).handlePostMessage(req, res, req.body);
  }

  /**
   * A session this replica does not hold may be one another replica holds (REDIS_URL): its plain
   * requests are answered here by the tenant's shared server; anything that needs the session's
   * own SDK server and streams is for the replica holding it.
   */
  private async postToSharedSession(
    req: McpRequest,
    res: Response,
    id: string,
    shared: SessionRef,
    json: boolean,
  ): Promise<void> {
    if (json && isPlainRequest(req.body)) return this.serveDirect(req, res, shared);
    if (json && isCancellation(req.body)) {
      (await this.shared.for(req.tenant)).dispatch(req.body, { authInfo: req.auth }, id);
    }
    if (json && isNotification(req.body)) {
      res.setHeader('mcp-session-id', id);
      res.writeHead(202).end();
      return;
    }
    this.sessionNotFound(
      res,
      'Session not found on this replica: requests that stream (progress, sampling) go to the replica holding it; route by Mcp-Session-Id',
    );
  }

  /** Reads the JSON body, now that the request is authenticated; answers refusals itself. */
  private async receive(req: McpRequest, res: Response, read: BodyReader): Promise<boolean> {
    const outcome = await read(req, res);
    if (outcome.ok) return true;
    if (!outcome.gone && !res.headersSent) {
      sendJsonRpcError(res, outcome.status, outcome.code, outcome.message);
    }
    return false;
  }

  /**
   * Checks that do not need the SDK: batches are refused, and a `tools/call` the principal lacks
   * scopes for is answered with HTTP 403 and a step-up challenge, decided by the same ToolPolicy
   * the SDK handlers use.
   */
  private async precheck(req: McpRequest, res: Response): Promise<boolean> {
    if (Array.isArray(req.body)) {
      sendJsonRpcError(
        res,
        400,
        JSONRPC_INVALID_REQUEST,
        'JSON-RPC batches are not supported: send one message per request',
      );
      return false;
    }
    this.attachAuth(req);
    if (isToolsCall(req.body)) {
      const tool = this.registry.get(req.body.params.name);
      if (tool && req.bodyBytes !== undefined && req.bodyBytes > tool.limits.maxBytes) {
        sendJsonRpcError(
          res,
          413,
          JSONRPC_INVALID_PARAMS,
          tooLarge(req.bodyBytes, tool.limits.maxBytes, tool.name),
        );
        return false;
      }
      const decision = decideToolAccess(req.user, tool, await this.grants.forTenant(req.tenant.id));
      if (decision.kind === 'insufficient_scope') {
        this.recorder.record({
          tenant: req.tenant,
          principal: req.user,
          tool: req.body.params.name,
          outcome: 'denied',
          requestId: res.getHeader('X-Request-Id') as string | undefined,
          detail: { reason: 'insufficient_scope' },
        });
        const scope = decision.scopes.join(' ');
        res.setHeader(
          'WWW-Authenticate',
          bearerChallenge({
            error: 'insufficient_scope',
            scope,
            resource_metadata: resourceMetadataUrl(this.config.publicUrl, req.tenant.slug),
            error_description: `${req.body.params.name} needs ${scope}`,
          }),
        );
        throw new ForbiddenException(
          `insufficient scope: tool ${req.body.params.name} needs ${scope}; ask for a key or token with it`,
        );
      }
    }
    return true;
  }

  /**
   * Answers one JSON-RPC message with the tenant's shared SDK server, as plain JSON: the hot path
   * for stateless mode and for ordinary requests inside a session. Applies the same HTTP rules the
   * SDK transport does (Accept, JSON-RPC shape, protocol version).
   */
  private async serveDirect(req: McpRequest, res: Response, session?: SessionRef): Promise<void> {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      return sendJsonRpcError(
        res,
        406,
        -32000,
        'Not Acceptable: Client must accept both application/json and text/event-stream',
      );
    }
    let message = req.body as JSONRPCMessage;
    if (!isSimpleRequest(message)) {
      const parsed = JSONRPCMessageSchema.safeParse(req.body);
      if (!parsed.success) {
        return sendJsonRpcError(
          res,
          400,
          JSONRPC_PARSE_ERROR,
          'Parse error: Invalid JSON-RPC message',
        );
      }
      message = parsed.data;
    }
    const version = req.headers['mcp-protocol-version'];
    const isInit = 'method' in message && message.method === 'initialize';
    if (!isInit && typeof version === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      return sendJsonRpcError(
        res,
        400,
        -32000,
        `Bad Request: Unsupported protocol version: ${version} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
      );
    }
    // attachAuth made this object for this request: the session joins it for the tool context.
    if (session) req.auth!.extra!.session = session;
    const transport = await this.shared.for(req.tenant);
    const call = transport.dispatch(
      message,
      { authInfo: req.auth, requestInfo: { headers: req.headers } },
      session?.id ?? req.user.id,
    );
    let gone = false;
    res.once('close', () => {
      gone = !res.writableFinished;
      if (gone) call.cancel();
    });
    const response = await call.response;
    if (gone) return;
    if (session) res.setHeader('mcp-session-id', session.id);
    if (!response) {
      res.writeHead(202).end();
      return;
    }
    writeJson(res, 200, this.factory.stringify(response));
  }

  private attachAuth(req: McpRequest): void {
    req.auth = {
      token: '',
      clientId: req.user.id,
      scopes: [...req.user.scopes],
      // The SDK transport rebuilds headers from the raw request, so the id we assigned travels here.
      extra: { principal: req.user, requestId: req.headers['x-request-id'] },
    };
  }

  private async serveStateless(req: McpRequest, res: Response): Promise<void> {
    const server = this.factory.create(req.tenant);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  }

  private async startSession(req: McpRequest, res: Response): Promise<void> {
    const server = this.factory.create(req.tenant);
    // The transport keeps its callbacks for the session's life: they must not hold the request.
    const owner = this.owner(req);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) =>
        this.sessions.add({ ...owner, kind: 'streamable', id, server, transport }),
      onsessionclosed: (id) => this.sessions.remove(id),
    });
    transport.onclose = () => this.sessions.remove(transport.sessionId);
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
    if (!transport.sessionId) await server.close();
  }

  private async forwardToSession(req: McpRequest, res: Response): Promise<void> {
    if (this.config.mcpStateless) {
      res.setHeader('Allow', 'POST');
      return sendJsonRpcError(
        res,
        405,
        JSONRPC_INVALID_REQUEST,
        'Method not allowed: this server is stateless; use POST',
      );
    }
    const sessionId = req.headers[SESSION_HEADER];
    if (typeof sessionId !== 'string') {
      return sendJsonRpcError(
        res,
        400,
        JSONRPC_INVALID_REQUEST,
        'Bad Request: Mcp-Session-Id header is required',
      );
    }
    this.attachAuth(req);
    const session = this.sessions.find(sessionId, req.tenant.id, req.user.id);
    if (!session) {
      const shared = await this.sessions.findShared(sessionId, req.tenant.id, req.user.id);
      if (shared && req.method === 'DELETE') {
        await this.sessions.endShared(sessionId);
        res.writeHead(200).end();
        return;
      }
      if (shared) {
        // Server-to-client messages of this session flow on the replica that holds it.
        res.setHeader('Allow', 'POST, DELETE');
        return sendJsonRpcError(
          res,
          405,
          JSONRPC_INVALID_REQUEST,
          'Method not allowed on this replica: the event stream of this session is served by the replica holding it; route by Mcp-Session-Id to receive server notifications',
        );
      }
    }
    if (session?.kind !== 'streamable') return this.sessionNotFound(res);
    await (session.transport as StreamableHTTPServerTransport).handleRequest(req, res, req.body);
  }

  /** A session of another principal is answered exactly like one that does not exist. */
  private sessionFor(
    req: McpRequest,
    res: Response,
    id: string,
    kind: McpSession['kind'],
  ): McpSession | undefined {
    const session = this.sessions.find(id, req.tenant.id, req.user.id);
    if (!session || session.kind !== kind) {
      this.sessionNotFound(res);
      return undefined;
    }
    return session;
  }

  private sessionNotFound(res: Response, message?: string): void {
    sendJsonRpcError(
      res,
      404,
      JSONRPC_SESSION_NOT_FOUND,
      message ?? 'Session not found: initialize a new session',
    );
  }

  private owner(
    req: McpRequest,
  ): Pick<McpSession, 'tenantId' | 'principalId' | 'keyId' | 'lastSeen'> {
    return {
      tenantId: req.tenant.id,
      principalId: req.user.id,
      keyId: req.user.keyId,
      lastSeen: Date.now(),
    };
  }
}

function tooLarge(bytes: number, limit: number, tool?: string): string {
  const what = tool
    ? `a tools/call of ${tool} may take at most ${limit} bytes (its argument limit)`
    : `no request may take more than ${limit} bytes (the largest tool-argument limit)`;
  return `Invalid params: the request is ${bytes} bytes; ${what}: send smaller arguments`;
}
