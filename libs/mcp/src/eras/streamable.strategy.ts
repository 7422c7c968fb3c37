import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  isInitializeRequest,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import type { Response } from 'express';
import { PlatformConfig } from '@app/config';
import {
  isCancellation,
  isJsonBody,
  isNotification,
  isPlainRequest,
  isSimpleRequest,
  JSONRPC_INVALID_REQUEST,
  JSONRPC_PARSE_ERROR,
  sendJsonRpcError,
  writeJson,
} from '../jsonrpc';
import { attachAuth, McpBodies, type McpExchange, type McpRequest } from '../mcp-exchange';
import { McpServerFactory, NEEDS_SESSION_STREAM } from '../mcp-server.factory';
import { type McpSession, SessionRef, SessionStore } from '../session-store';
import { SharedServers } from '../shared-servers';
import { LegacyPrecheck, sessionNotFound, sessionOwner } from './legacy-precheck';
import type { ServingStrategy } from './serving-strategy';

const SESSION_HEADER = 'mcp-session-id';

/**
 * The 2025 era on Streamable HTTP (v1 `@modelcontextprotocol/sdk`): sessions (held here, or by
 * another replica with REDIS_URL), or stateless with MCP_STATELESS. Plain requests are answered
 * by the tenant's shared SDK server through a direct transport; anything that streams goes
 * through the session's own SDK transport.
 */
@Injectable()
export class StreamableStrategy implements ServingStrategy {
  readonly era = '2025' as const;
  readonly transport = 'streamable-http' as const;

  constructor(
    private readonly config: PlatformConfig,
    private readonly factory: McpServerFactory,
    private readonly sessions: SessionStore,
    private readonly shared: SharedServers,
    private readonly bodies: McpBodies,
    private readonly precheck: LegacyPrecheck,
  ) {}

  claims(x: McpExchange): boolean {
    return x.endpoint === 'mcp';
  }

  serve(x: McpExchange): Promise<void> {
    return x.req.method === 'POST' ? this.post(x) : this.forwardToSession(x);
  }

  private async post(x: McpExchange): Promise<void> {
    const { req, res } = x;
    const sessionId = this.config.mcpStateless ? undefined : req.headers[SESSION_HEADER];
    if (typeof sessionId !== 'string') {
      if (!(await this.bodies.receive(x, 'request'))) return;
      if (!(await this.precheck.passes(x))) return;
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
    if (session ? session.kind !== 'streamable' : !shared) return sessionNotFound(res);
    if (!(await this.bodies.receive(x, 'session-message'))) return;
    if (!(await this.precheck.passes(x))) return;
    const json = isJsonBody(req);
    if (!session) return this.postToSharedSession(req, res, sessionId, shared!, json);
    if (json && isPlainRequest(req.body)) return this.serveDirect(req, res, session);
    if (json && isCancellation(req.body)) {
      // The request may be one the shared server is answering; it ignores ids it does not hold.
      (await this.shared.for(req.tenant)).dispatch(req.body, { authInfo: req.auth }, session.id);
    }
    await (session.transport as StreamableHTTPServerTransport).handleRequest(req, res, req.body);
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
    sessionNotFound(
      res,
      'Session not found on this replica: requests that stream (progress, sampling) go to the replica holding it; route by Mcp-Session-Id',
    );
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
    // The precheck made this object for this request: the session joins it for the tool context.
    if (session) req.auth!.extra.session = session;
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
    const held = session as Partial<McpSession> | undefined;
    if (
      response &&
      'error' in response &&
      response.error.code === NEEDS_SESSION_STREAM &&
      held?.transport instanceof StreamableHTTPServerTransport
    ) {
      return held.transport.handleRequest(req, res, req.body);
    }
    if (session) res.setHeader('mcp-session-id', session.id);
    if (!response) {
      res.writeHead(202).end();
      return;
    }
    writeJson(res, 200, this.factory.stringify(response));
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
    const owner = sessionOwner(req);
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

  private async forwardToSession({ req, res }: McpExchange): Promise<void> {
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
    attachAuth(req);
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
    if (session?.kind !== 'streamable') return sessionNotFound(res);
    await (session.transport as StreamableHTTPServerTransport).handleRequest(req, res, req.body);
  }
}
