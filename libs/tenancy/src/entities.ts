import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

export const TENANT_STATUSES = ['active', 'suspended'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/**
 * Which MCP protocol eras a tenant's endpoint serves: both (`dual`), only 2026-07-28
 * (`modern-only`) or only the 2025 revisions and the legacy SSE transport (`legacy-only`).
 */
export const PROTOCOL_POSTURES = ['dual', 'modern-only', 'legacy-only'] as const;
export type ProtocolPosture = (typeof PROTOCOL_POSTURES)[number];

export interface TenantJwtSettings {
  issuer: string;
  /** Absent: taken from the issuer's discovery document (OIDC or RFC 8414 metadata). */
  jwksUri?: string;
  audience?: string;
  scopesClaim?: string;
  algorithms?: string[];
}

/** RFC 7662 introspection of opaque access tokens; the client secret is kept sealed. */
export interface TenantIntrospectionSettings {
  endpoint: string;
  clientId: string;
  /** PlatformSecrets.seal output (purpose `tenant-auth`); never shown. */
  clientSecretSealed: string;
  /** Accepted next to the tenant's resource URL in `aud`. */
  audience?: string;
  scopesClaim?: string;
}

/** A tenant's own auth service, asked about credentials sent in custom headers. */
export interface TenantExternalAuthSettings {
  url: string;
  /** Lower-case header names whose values are posted to `url`. */
  headers: string[];
  timeoutMs?: number;
  cacheSeconds?: number;
}

export interface TenantAuthSettings {
  jwt?: TenantJwtSettings;
  introspection?: TenantIntrospectionSettings;
  external?: TenantExternalAuthSettings;
}

export interface TenantRateLimits {
  keyPerMinute?: number;
  tenantPerMinute?: number;
  keyConcurrency?: number;
  tenantConcurrency?: number;
}

export interface TenantSettings {
  /** Browser origins allowed to call the MCP endpoint, in addition to the platform's list. */
  allowedOrigins?: string[];
  /**
   * Requests per minute and requests in flight at once; absent uses the platform defaults, 0
   * turns a limit off.
   */
  rateLimits?: TenantRateLimits;
  /** The tenant's own identity systems: JWT issuer, token introspection, an auth service. */
  auth?: TenantAuthSettings;
  /** Absent: `dual`. */
  protocol?: ProtocolPosture;
}

export function protocolPosture(tenant: { settings: TenantSettings }): ProtocolPosture {
  return tenant.settings.protocol ?? 'dual';
}

@Entity('tenants')
export class Tenant {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column() slug!: string;
  @Column() name!: string;
  @Column({ type: 'varchar' }) status!: TenantStatus;
  @Column({ type: 'jsonb', default: {} }) settings!: TenantSettings;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

@Entity('api_keys')
export class ApiKey {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'tenant_id', type: 'uuid' }) tenantId!: string;
  @Column() name!: string;
  @Column({ name: 'key_id' }) keyId!: string;
  @Column({ name: 'secret_hash', type: 'bytea' }) secretHash!: Buffer;
  @Column({ type: 'text', array: true }) scopes!: string[];
  @Column({ type: 'text', array: true, nullable: true }) tools!: string[] | null;
  /** Resource and resource-template names this key is limited to; null: no such limit. */
  @Column({ type: 'text', array: true, nullable: true }) resources!: string[] | null;
  @Column({ type: 'text', array: true, nullable: true }) prompts!: string[] | null;
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true }) expiresAt!: Date | null;
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true }) revokedAt!: Date | null;
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true }) lastUsedAt!: Date | null;
  @Column({ name: 'previous_secret_hash', type: 'bytea', nullable: true })
  previousSecretHash!: Buffer | null;
  @Column({ name: 'previous_valid_until', type: 'timestamptz', nullable: true })
  previousValidUntil!: Date | null;
  @Column({ name: 'rotated_at', type: 'timestamptz', nullable: true }) rotatedAt!: Date | null;
  /** Overrides the tenant's per-key rate limit; null uses the tenant's. */
  @Column({ name: 'rate_limit_per_minute', type: 'integer', nullable: true })
  rateLimitPerMinute!: number | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

@Entity('tool_grants')
export class ToolGrant {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid' }) tenantId!: string;
  @PrimaryColumn({ name: 'tool_name' }) toolName!: string;
  @Column() enabled!: boolean;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

@Entity('platform_settings')
export class PlatformSetting {
  @PrimaryColumn() key!: string;
  @Column({ type: 'jsonb' }) value!: unknown;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
