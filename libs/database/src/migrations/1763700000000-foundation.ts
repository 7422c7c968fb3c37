import { MigrationInterface, QueryRunner } from 'typeorm';

export class Foundation1763700000000 implements MigrationInterface {
  name = 'Foundation1763700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tenants (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug varchar(63) NOT NULL,
        name varchar(200) NOT NULL,
        status varchar(16) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
        settings jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT tenants_slug_key UNIQUE (slug)
      )`);
    await q.query(`CREATE INDEX tenants_page_idx ON tenants (created_at, id)`);

    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        name varchar(200) NOT NULL,
        key_id varchar(32) NOT NULL,
        secret_hash bytea NOT NULL,
        scopes text[] NOT NULL DEFAULT '{}',
        tools text[],
        expires_at timestamptz,
        revoked_at timestamptz,
        last_used_at timestamptz,
        previous_secret_hash bytea,
        previous_valid_until timestamptz,
        rotated_at timestamptz,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT api_keys_key_id_key UNIQUE (key_id)
      )`);
    await q.query(`CREATE INDEX api_keys_tenant_page_idx ON api_keys (tenant_id, created_at, id)`);

    await q.query(`
      CREATE TABLE tool_grants (
        tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        tool_name varchar(64) NOT NULL,
        enabled boolean NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, tool_name)
      )`);

    await q.query(`
      CREATE TABLE audit_events (
        id bigserial PRIMARY KEY,
        tenant_id uuid REFERENCES tenants (id) ON DELETE CASCADE,
        at timestamptz NOT NULL DEFAULT now(),
        actor_kind varchar(16) NOT NULL,
        actor_id varchar(300) NOT NULL,
        action varchar(64) NOT NULL,
        tool varchar(64),
        key_id uuid,
        outcome varchar(16),
        duration_ms integer,
        request_id varchar(64),
        detail jsonb NOT NULL DEFAULT '{}'::jsonb
      )`);
    await q.query(
      `CREATE INDEX audit_events_tenant_at_idx ON audit_events (tenant_id, at DESC, id DESC)`,
    );

    await q.query(`
      CREATE TABLE platform_settings (
        key varchar(64) PRIMARY KEY,
        value jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE platform_settings`);
    await q.query(`DROP TABLE audit_events`);
    await q.query(`DROP TABLE tool_grants`);
    await q.query(`DROP TABLE api_keys`);
    await q.query(`DROP TABLE tenants`);
  }
}
