import { Injectable } from '@nestjs/common';
import { AuditWriter } from '@app/audit';
import type { AuthenticatedRequest } from '@app/auth';

/** Records who changed what through the admin API. Details name things, never secrets. */
@Injectable()
export class AdminAudit {
  constructor(private readonly audit: AuditWriter) {}

  changed(
    req: AuthenticatedRequest,
    tenantId: string | null,
    action: string,
    detail: Record<string, unknown>,
  ): void {
    const principal = req.user;
    this.audit.record({
      tenantId,
      actorKind: principal?.kind ?? 'anonymous',
      actorId: principal?.id ?? 'unknown',
      action,
      keyId: typeof detail.keyId === 'string' ? detail.keyId : undefined,
      outcome: 'ok',
      requestId:
        typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : undefined,
      detail,
    });
  }
}
