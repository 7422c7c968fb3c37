import type { AuditOutcome } from './audit-event.entity';

/** One thing worth recording. Never put a secret in `detail`. */
export interface AuditRecord {
  tenantId: string | null;
  actorKind: string;
  actorId: string;
  /** e.g. `tool.call`, `auth.refused`, `key.create`, `tenant.update` */
  action: string;
  tool?: string;
  keyId?: string;
  outcome?: AuditOutcome;
  durationMs?: number;
  requestId?: string;
  detail?: Record<string, unknown>;
  at?: Date;
}
