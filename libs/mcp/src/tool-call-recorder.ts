import { Injectable } from '@nestjs/common';
import { AuditOutcome, AuditWriter } from '@app/audit';
import type { Principal } from '@app/auth';
import { Metrics } from '@app/observability';
import type { ToolTenant } from '@app/tools';

/** The protocol era a request was served in, as metrics and audit events name it. */
export type McpEra = '2026-07-28' | '2025';

export interface ToolCallRecord {
  era: McpEra;
  tenant: ToolTenant;
  principal: Principal;
  tool: string;
  /** Whether the tenant's catalog has a tool of that name (unknown names are not metric labels). */
  known: boolean;
  outcome: AuditOutcome;
  durationMs?: number;
  requestId?: string;
  detail?: Record<string, unknown>;
}

/** A resource read or prompt get, allowed or not. */
export interface UseRecord {
  era: McpEra;
  tenant: ToolTenant;
  principal: Principal;
  action: string;
  /** The capability's grant key, e.g. `resource:note`. */
  name: string;
  outcome: AuditOutcome;
  durationMs?: number;
  requestId?: string;
  detail?: Record<string, unknown>;
}

/** Every tool call, allowed or not, becomes a metric and an audit event (batched, off the hot path). */
@Injectable()
export class ToolCallRecorder {
  constructor(
    private readonly audit: AuditWriter,
    private readonly metrics: Metrics,
  ) {}

  record(c: ToolCallRecord): void {
    // Names a client made up must not become metric series (unbounded cardinality).
    const tool = c.known ? c.tool : '(unknown)';
    this.metrics.toolCalls.inc({ tenant: c.tenant.slug, tool, outcome: c.outcome, era: c.era });
    if (c.durationMs !== undefined)
      this.metrics.toolDuration.observe({ tool }, c.durationMs / 1000);
    this.recordUse({ ...c, action: 'tool.call', name: c.tool });
  }

  /** Reads and gets are audited like calls (tool calls also through here); no metrics. */
  recordUse(c: UseRecord): void {
    this.audit.record({
      tenantId: c.tenant.id,
      actorKind: c.principal.kind,
      actorId: c.principal.id,
      action: c.action,
      tool: c.name.slice(0, 64),
      keyId: c.principal.kind === 'api-key' ? c.principal.id : undefined,
      outcome: c.outcome,
      durationMs: c.durationMs,
      requestId: c.requestId,
      detail: { ...c.detail, era: c.era },
    });
  }
}
