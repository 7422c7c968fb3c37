import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export const AUDIT_OUTCOMES = ['ok', 'error', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

@Entity('audit_events')
export class AuditEvent {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ name: 'tenant_id', type: 'uuid', nullable: true }) tenantId!: string | null;
  @Column({ type: 'timestamptz' }) at!: Date;
  @Column({ name: 'actor_kind', type: 'varchar' }) actorKind!: string;
  @Column({ name: 'actor_id', type: 'varchar' }) actorId!: string;
  @Column({ type: 'varchar' }) action!: string;
  @Column({ type: 'varchar', nullable: true }) tool!: string | null;
  @Column({ name: 'key_id', type: 'uuid', nullable: true }) keyId!: string | null;
  @Column({ type: 'varchar', nullable: true }) outcome!: AuditOutcome | null;
  @Column({ name: 'duration_ms', type: 'integer', nullable: true }) durationMs!: number | null;
  @Column({ name: 'request_id', type: 'varchar', nullable: true }) requestId!: string | null;
  @Column({ type: 'jsonb' }) detail!: Record<string, unknown>;
  /** Made when the event was queued; unique, so writing an event again (spill drain) is a no-op. */
  @Column({ name: 'event_id', type: 'uuid', nullable: true }) eventId!: string | null;
}
