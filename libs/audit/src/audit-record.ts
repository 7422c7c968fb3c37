import { randomUUID } from 'node:crypto';
import { UUID_PATTERN as UUID } from '@app/database';
import { AUDIT_OUTCOMES, type AuditOutcome } from './audit-event.entity';
import type { AuditRecord } from './audit.types';

/** An audit record on its way to the database: with the id that makes writing it idempotent. */
export interface QueuedRecord extends AuditRecord {
  eventId: string;
  at: Date;
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of milliseconds, then randomness. Time-ordered ids keep inserts
 * into the unique index at its right edge instead of all over it.
 */
export function newEventId(now = Date.now()): string {
  const random = randomUUID(); // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx, V already the RFC variant
  const ms = now.toString(16).padStart(12, '0').slice(-12);
  return `${ms.slice(0, 8)}-${ms.slice(8)}-7${random.slice(15)}`;
}

const str = (v: unknown): v is string => typeof v === 'string';
const optional =
  <T>(check: (v: unknown) => v is T) =>
  (v: unknown): v is T | undefined =>
    v === undefined || v === null || check(v);
const optStr = optional(str);
const isOutcome = (v: unknown): v is AuditOutcome => AUDIT_OUTCOMES.includes(v as AuditOutcome);

/** A record read back from the spill, or undefined when it is not one (a damaged line). */
export function reviveRecord(value: unknown): QueuedRecord | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const at = str(v.at) ? new Date(v.at) : undefined;
  if (
    !str(v.eventId) ||
    !UUID.test(v.eventId) ||
    !at ||
    Number.isNaN(at.getTime()) ||
    !(v.tenantId === null || (str(v.tenantId) && UUID.test(v.tenantId))) ||
    !str(v.actorKind) ||
    !str(v.actorId) ||
    !str(v.action) ||
    !optStr(v.tool) ||
    !optStr(v.keyId) ||
    !optStr(v.requestId) ||
    !optional(isOutcome)(v.outcome) ||
    !(v.durationMs === undefined || v.durationMs === null || typeof v.durationMs === 'number') ||
    !(
      v.detail === undefined ||
      v.detail === null ||
      (typeof v.detail === 'object' && !Array.isArray(v.detail))
    )
  ) {
    return undefined;
  }
  const orUndefined = <T>(x: T | null | undefined) => (x === null ? undefined : x);
  return {
    eventId: v.eventId,
    at,
    tenantId: v.tenantId,
    actorKind: v.actorKind,
    actorId: v.actorId,
    action: v.action,
    tool: orUndefined(v.tool),
    keyId: orUndefined(v.keyId),
    outcome: orUndefined(v.outcome),
    durationMs: orUndefined(v.durationMs),
    requestId: orUndefined(v.requestId),
    detail: orUndefined(v.detail as Record<string, unknown> | null | undefined),
  };
}
