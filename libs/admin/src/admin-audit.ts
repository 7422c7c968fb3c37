import { createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import { AuditWriter } from '@app/audit';
import type { AuthenticatedRequest, Principal } from '@app/auth';

/** Who is changing something through the admin API, and in which request. */
export interface AdminActor {
  principal: Principal;
  requestId?: string;
}

export const Actor = createParamDecorator((_: unknown, ctx: ExecutionContext): AdminActor => {
  const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!req.user) throw new Error('Actor used on a route the guard did not authenticate');
  const requestId = req.headers['x-request-id'];
  return { principal: req.user, requestId: typeof requestId === 'string' ? requestId : undefined };
});

/** Records who changed what through the admin API. Details name things, never secrets. */
@Injectable()
export class AdminAudit {
  constructor(private readonly audit: AuditWriter) {}

  changed(
    actor: AdminActor,
    tenantId: string | null,
    action: string,
    detail: Record<string, unknown>,
  ): void {
    this.audit.record({
      tenantId,
      actorKind: actor.principal.kind,
      actorId: actor.principal.id,
      action,
      keyId: typeof detail.keyId === 'string' ? detail.keyId : undefined,
      outcome: 'ok',
      requestId: actor.requestId,
      detail,
    });
  }
}
