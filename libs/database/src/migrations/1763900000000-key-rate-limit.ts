import { MigrationInterface, QueryRunner } from 'typeorm';

export class KeyRateLimit1763900000000 implements MigrationInterface {
  name = 'KeyRateLimit1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute integer`);
    await q.query(`CREATE INDEX audit_events_at_idx ON audit_events (at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX audit_events_at_idx`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN rate_limit_per_minute`);
  }
}
