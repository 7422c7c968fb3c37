import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { ToolListEntry } from '@app/tools';
import type { OpenApiOperationTool } from './openapi';

export type SourceKind = 'mcp' | 'openapi';
export const SOURCE_KINDS = ['mcp', 'openapi'] as const satisfies readonly SourceKind[];

/** How the platform speaks to an upstream MCP server: found out, or fixed by the tenant admin. */
export type McpTransportChoice = 'auto' | 'streamable-http' | 'sse';

export interface McpSourceConfig {
  kind: 'mcp';
  url: string;
  transport: McpTransportChoice;
  /** Names of the headers injected on every request (their values are secrets). */
  headerNames: string[];
}

export type OpenApiCredentialConfig =
  | { kind: 'header'; header: string }
  | { kind: 'oauth'; tokenUrl: string; clientId: string; scope?: string };

export interface OpenApiSourceConfig {
  kind: 'openapi';
  baseUrl: string;
  /** Fetched on create and on every refresh; otherwise the document was given inline. */
  documentUrl?: string;
  /** The inline document as given (object), kept so a refresh can re-read it. */
  document?: unknown;
  operations?: { tags?: string[]; operationIds?: string[] };
  credential?: OpenApiCredentialConfig;
}

export type SourceConfig = McpSourceConfig | OpenApiSourceConfig;

/** The secret half of a source, sealed at rest: injected header values, a credential. */
export interface SourceSecrets {
  headers?: Record<string, string>;
  /** An OpenAPI source's header value, or its OAuth client secret. */
  credential?: string;
}

/**
 * A tool as last read from the source (its `tools/list` entry under the upstream's own name),
 * before the prefix and scopes are applied; for OpenAPI sources, how to build the HTTP request.
 */
export interface CatalogTool extends ToolListEntry {
  operation?: OpenApiOperationTool;
}

export interface SkippedTool {
  name: string;
  reason: string;
}

@Entity('tool_sources')
export class ToolSourceRecord {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'tenant_id', type: 'uuid' }) tenantId!: string;
  @Column() name!: string;
  @Column({ type: 'varchar' }) kind!: SourceKind;
  @Column() prefix!: string;
  @Column() enabled!: boolean;
  @Column({ type: 'jsonb' }) config!: SourceConfig;
  /** Sealed SourceSecrets; never rendered. */
  @Column({ type: 'text', nullable: true }) secrets!: string | null;
  @Column({ type: 'text', array: true }) scopes!: string[];
  @Column({ name: 'tool_scopes', type: 'jsonb' }) toolScopes!: Record<string, string[]>;
  @Column({ type: 'jsonb' }) catalog!: CatalogTool[];
  @Column({ type: 'jsonb' }) skipped!: SkippedTool[];
  @Column({ name: 'refreshed_at', type: 'timestamptz', nullable: true }) refreshedAt!: Date | null;
  @Column({ name: 'last_success_at', type: 'timestamptz', nullable: true })
  lastSuccessAt!: Date | null;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError!: string | null;
  @Column({ name: 'last_error_at', type: 'timestamptz', nullable: true }) lastErrorAt!: Date | null;
  @Column({ name: 'latency_ms', type: 'integer', nullable: true }) latencyMs!: number | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
