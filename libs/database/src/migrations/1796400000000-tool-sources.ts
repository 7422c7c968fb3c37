import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A tenant's tool sources: upstream MCP servers and OpenAPI services. `catalog` holds the tools
 * last read from the source, so every replica serves the same list without asking the upstream;
 * `secrets` is sealed (AES-256-GCM) and never leaves the server.
 */
export class ToolSources1796400000000 implements MigrationInterface {
  name = 'ToolSources1796400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tool_sources (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        name varchar(64) NOT NULL,
        kind varchar(16) NOT NULL CHECK (kind IN ('mcp', 'openapi')),
        prefix varchar(32) NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        config jsonb NOT NULL,
        secrets text,
        scopes text[] NOT NULL DEFAULT '{}',
        tool_scopes jsonb NOT NULL DEFAULT '{}'::jsonb,
        catalog jsonb NOT NULL DEFAULT '[]'::jsonb,
        skipped jsonb NOT NULL DEFAULT '[]'::jsonb,
        refreshed_at timestamptz,
        last_success_at timestamptz,
        last_error text,
        last_error_at timestamptz,
        latency_ms integer,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT tool_sources_name_key UNIQUE (tenant_id, name),
        CONSTRAINT tool_sources_prefix_key UNIQUE (tenant_id, prefix)
      )`);
    await q.query(
      `CREATE INDEX tool_sources_tenant_page_idx ON tool_sources (tenant_id, created_at, id)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE tool_sources`);
  }
}
