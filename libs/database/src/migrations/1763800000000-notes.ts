import { MigrationInterface, QueryRunner } from 'typeorm';

export class Notes1763800000000 implements MigrationInterface {
  name = 'Notes1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
    await q.query(`
      CREATE TABLE notes (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        title varchar(200) NOT NULL,
        body text NOT NULL DEFAULT '',
        created_by varchar(300) NOT NULL,
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX notes_tenant_page_idx ON notes (tenant_id, created_at, id)`);
    // Case-insensitive substring search (ILIKE) over title and body, served by a trigram index.
    await q.query(
      `CREATE INDEX notes_search_idx ON notes USING gin ((title || ' ' || body) gin_trgm_ops)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE notes`);
  }
}
