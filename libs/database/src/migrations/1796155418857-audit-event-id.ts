import { MigrationInterface, QueryRunner } from 'typeorm';

export class AuditEventId1796155418857 implements MigrationInterface {
  name = 'AuditEventId1796155418857';

  async up(q: QueryRunner): Promise<void> {
    // Made by the writer when an event is queued: an event written twice (a spill segment drained
    // again after a crash) hits the unique index and is skipped. Older rows have none.
    await q.query(`ALTER TABLE audit_events ADD COLUMN event_id uuid`);
    await q.query(`CREATE UNIQUE INDEX audit_events_event_id_key ON audit_events (event_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX audit_events_event_id_key`);
    await q.query(`ALTER TABLE audit_events DROP COLUMN event_id`);
  }
}
