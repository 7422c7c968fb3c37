import { MigrationInterface, QueryRunner } from 'typeorm';

/** A key's allow-lists for resources (and resource templates) and prompts, beside its tools. */
export class KeyCapabilityLists1796300000000 implements MigrationInterface {
  name = 'KeyCapabilityLists1796300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys ADD COLUMN resources text[], ADD COLUMN prompts text[]`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP COLUMN resources, DROP COLUMN prompts`);
  }
}
