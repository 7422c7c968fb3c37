import { Injectable } from '@nestjs/common';
import { Metrics } from '@app/observability';
import { type ProtocolPosture, protocolPosture } from '@app/tenancy';
import { McpBodies, type McpExchange } from '../mcp-exchange';
import type { McpEra } from '../tool-call-recorder';
import { ModernStrategy } from './modern.strategy';
import type { ServingStrategy } from './serving-strategy';
import { SseStrategy } from './sse.strategy';
import { StreamableStrategy } from './streamable.strategy';

/**
 * Picks the serving strategy of each request to a tenant's MCP endpoints: the first that claims
 * it, unless the tenant's protocol posture refuses that era; then the posture's own era answers
 * it, with the refusal its specification prescribes (a 2026-07-28 server answers 2025 traffic
 * with 405 or -32022; a 2025 server answers a sessionless 2026 request with a 400 that sends the
 * client back to `initialize`).
 */
@Injectable()
export class EraRouter {
  private readonly strategies: readonly ServingStrategy[];
  private readonly soleEra: Record<Exclude<ProtocolPosture, 'dual'>, ServingStrategy>;
  private readonly eraOf: Record<Exclude<ProtocolPosture, 'dual'>, McpEra>;

  constructor(
    modern: ModernStrategy,
    streamable: StreamableStrategy,
    sse: SseStrategy,
    private readonly bodies: McpBodies,
    private readonly metrics: Metrics,
  ) {
    // Order matters: the last claims whatever is left on its endpoint.
    this.strategies = [sse, modern, streamable];
    this.soleEra = { 'modern-only': modern, 'legacy-only': streamable };
    this.eraOf = { 'modern-only': modern.era, 'legacy-only': streamable.era };
  }

  async serve(x: McpExchange): Promise<void> {
    const { req } = x;
    // A sessionless POST says its era in its body; session traffic and GET/DELETE are 2025's.
    if (
      x.endpoint === 'mcp' &&
      req.method === 'POST' &&
      req.headers['mcp-session-id'] === undefined
    ) {
      if (!(await this.bodies.receive(x, 'request'))) return;
    }
    const claimant = this.strategies.find((s) => s.claims(x))!;
    const posture = protocolPosture(x.req.tenant);
    const allowed = posture === 'dual' || claimant.era === this.eraOf[posture];
    this.metrics.mcpRequests.inc({
      era: claimant.era,
      transport: claimant.transport,
      posture: allowed ? 'allowed' : 'refused',
    });
    await (allowed ? claimant : this.soleEra[posture]).serve(x);
  }
}
