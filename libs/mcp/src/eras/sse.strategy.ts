import { Injectable } from '@nestjs/common';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { tenantPath } from '@app/config';
import { attachAuth, McpBodies, type McpExchange } from '../mcp-exchange';
import { McpServerFactory } from '../mcp-server.factory';
import { SessionStore } from '../session-store';
import { LegacyPrecheck, sessionNotFound, sessionOwner } from './legacy-precheck';
import type { ServingStrategy } from './serving-strategy';

/**
 * The HTTP+SSE transport of protocol 2024-11-05 (v1 SDK), which 2025 clients may still use: the
 * event stream (`GET sse`) holds the session, client messages arrive on `POST messages`.
 */
@Injectable()
export class SseStrategy implements ServingStrategy {
  readonly era = '2025' as const;
  readonly transport = 'sse' as const;

  constructor(
    private readonly factory: McpServerFactory,
    private readonly sessions: SessionStore,
    private readonly bodies: McpBodies,
    private readonly precheck: LegacyPrecheck,
  ) {}

  claims(x: McpExchange): boolean {
    return x.endpoint === 'sse' || x.endpoint === 'messages';
  }

  serve(x: McpExchange): Promise<void> {
    return x.endpoint === 'sse' ? this.stream(x) : this.message(x);
  }

  private async stream({ req, res }: McpExchange): Promise<void> {
    attachAuth(req);
    const transport = new SSEServerTransport(tenantPath(req.tenant.slug, 'messages'), res);
    const server = this.factory.create(req.tenant);
    this.sessions.add({
      ...sessionOwner(req),
      kind: 'sse',
      id: transport.sessionId,
      server,
      transport,
    });
    transport.onclose = () => this.sessions.remove(transport.sessionId);
    await server.connect(transport);
  }

  private async message(x: McpExchange): Promise<void> {
    const { req, res } = x;
    const id = typeof req.query.sessionId === 'string' ? req.query.sessionId : '';
    const session = this.sessions.find(id, req.tenant.id, req.user.id);
    if (!session || session.kind !== 'sse') return sessionNotFound(res);
    if (!(await this.bodies.receive(x, 'session-message'))) return;
    if (!(await this.precheck.passes(x))) return;
    await (session.transport as SSEServerTransport).handlePostMessage(req, res, req.body);
  }
}
