import { Injectable, Logger } from '@nestjs/common';
import { AuditWriter } from '@app/audit';
import { Metrics } from '@app/observability';
import type { Tenant } from '@app/tenancy';
import type { RefusalReason } from './refusal';

export interface CredentialRefusal {
  /** Set when the route named a known tenant: the refusal belongs in that tenant's audit log. */
  tenant?: Tenant;
  reason: RefusalReason;
  message: string;
  address: string;
  requestId?: string;
  route: string;
}

/**
 * Refused credentials become a metric, a log line and, on a known tenant, an audit event. A request
 * without any credential is how an MCP client asks for its challenge: a metric and a debug line
 * only, so anonymous traffic cannot flood the log or a tenant's audit trail.
 */
@Injectable()
export class AuthEvents {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly metrics: Metrics,
    private readonly audit: AuditWriter,
  ) {}

  credentialRefused(e: CredentialRefusal): void {
    this.metrics.authFailures.inc({ reason: e.reason });
    const missing = e.reason === 'missing';
    this.logger[missing ? 'debug' : 'warn'](
      { tenant: e.tenant?.slug, reason: e.reason, route: e.route, requestId: e.requestId },
      `credential refused: ${e.message}`,
    );
    if (!e.tenant || missing) return;
    this.audit.record({
      tenantId: e.tenant.id,
      actorKind: 'anonymous',
      actorId: e.address,
      action: 'auth.refused',
      outcome: 'denied',
      requestId: e.requestId,
      detail: { reason: e.reason, message: e.message, route: e.route },
    });
  }

  rateLimited(limit: string): void {
    this.metrics.rateLimited.inc({ limit });
  }
}
