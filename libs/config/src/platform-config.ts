import { envSchema } from './config.schema';

/**
 * Caps on a `tools/call`'s arguments, checked before anything walks them: `maxBytes` bounds the
 * size of the JSON-RPC message that carries them, `maxElements` the array items and object members
 * counted through every level, `maxDepth` the nesting.
 */
export interface ToolArgumentLimits {
  readonly maxBytes: number;
  readonly maxElements: number;
  readonly maxDepth: number;
}

/** The validated, typed configuration. Injected by class token. */
export class PlatformConfig {
  readonly port!: number;
  readonly host!: string;
  readonly publicUrl!: string;
  readonly databaseUrl?: string;
  readonly dataDir!: string;
  readonly adminToken?: string;
  readonly secretsKey?: string;
  readonly secretsKeyPrevious?: string;
  readonly redisUrl?: string;
  /** CIDRs outbound fetches on a tenant's behalf may reach although they are internal. */
  readonly egressAllow!: readonly string[];
  readonly sourceTimeoutMs!: number;
  readonly sourceConcurrency!: number;
  readonly sourceBreakerOpenMs!: number;
  readonly mcpStateless!: boolean;
  readonly logLevel!: string;
  readonly logFile?: string;
  readonly sessionIdleTtlMs!: number;
  readonly requestStateTtlMs!: number;
  readonly maxSessionsPerTenant!: number;
  readonly apiKeyCacheTtlMs!: number;
  readonly allowedOrigins!: readonly string[];
  readonly shutdownTimeoutMs!: number;
  readonly auditRetentionDays!: number;
  readonly metricsToken?: string;
  /** Requests per minute; 0 turns the limit off. */
  readonly rateLimitKeyPerMinute!: number;
  readonly rateLimitTenantPerMinute!: number;
  /** Refused credentials per client address and minute; valid credentials are never refused. */
  readonly authFailuresPerMinute!: number;
  /** Refused platform-admin tokens per client address and minute, counted apart. */
  readonly adminAuthFailuresPerMinute!: number;
  /** In-flight requests (event streams excepted); 0 turns the cap off. */
  readonly maxInFlightPerTenant!: number;
  readonly maxInFlightPerKey!: number;
  /** Defaults for every tool; a tool may declare its own. */
  readonly toolArgumentLimits!: ToolArgumentLimits;
  readonly requestTimeoutMs!: number;
  readonly headersTimeoutMs!: number;
  /** Client-side: a query that has not answered by then fails as "database unavailable". */
  readonly databaseQueryTimeoutMs!: number;
  /** Audit events held in memory while they cannot be written; the rest spill to DATA_DIR. */
  readonly auditMemoryQueue!: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): PlatformConfig {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'env'}: ${i.message}`),
    );
  }
  const e = parsed.data;
  if (e.HEADERS_TIMEOUT > e.REQUEST_TIMEOUT) {
    throw new ConfigError([
      `HEADERS_TIMEOUT: must not exceed REQUEST_TIMEOUT (${e.REQUEST_TIMEOUT} s): headers are part of the request`,
    ]);
  }
  const hostForUrl = e.HOST === '0.0.0.0' || e.HOST === '::' ? 'localhost' : e.HOST;
  const config: PlatformConfig = {
    port: e.PORT,
    host: e.HOST,
    publicUrl: (e.PUBLIC_URL ?? `http://${hostForUrl}:${e.PORT}`).replace(/\/+$/, ''),
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    adminToken: e.ADMIN_TOKEN,
    secretsKey: e.SECRETS_KEY,
    secretsKeyPrevious: e.SECRETS_KEY_PREVIOUS,
    redisUrl: e.REDIS_URL,
    egressAllow: e.EGRESS_ALLOW.split(',')
      .map((c) => c.trim())
      .filter(Boolean),
    sourceTimeoutMs: e.SOURCE_TIMEOUT * 1000,
    sourceConcurrency: e.SOURCE_CONCURRENCY,
    sourceBreakerOpenMs: e.SOURCE_BREAKER_OPEN * 1000,
    mcpStateless: e.MCP_STATELESS,
    logLevel: e.LOG_LEVEL,
    logFile: e.LOG_FILE,
    sessionIdleTtlMs: e.SESSION_IDLE_TTL * 1000,
    requestStateTtlMs: e.REQUEST_STATE_TTL * 1000,
    maxSessionsPerTenant: e.MAX_SESSIONS_PER_TENANT,
    apiKeyCacheTtlMs: e.API_KEY_CACHE_TTL * 1000,
    allowedOrigins: e.ALLOWED_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT * 1000,
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    metricsToken: e.METRICS_TOKEN,
    rateLimitKeyPerMinute: e.RATE_LIMIT_KEY_PER_MINUTE,
    rateLimitTenantPerMinute: e.RATE_LIMIT_TENANT_PER_MINUTE,
    authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE,
    adminAuthFailuresPerMinute: e.ADMIN_AUTH_FAILURES_PER_MINUTE,
    maxInFlightPerTenant: e.MAX_INFLIGHT_PER_TENANT,
    maxInFlightPerKey: e.MAX_INFLIGHT_PER_KEY,
    toolArgumentLimits: Object.freeze({
      maxBytes: e.MAX_ARGUMENT_BYTES,
      maxElements: e.MAX_ARGUMENT_ELEMENTS,
      maxDepth: e.MAX_ARGUMENT_DEPTH,
    }),
    requestTimeoutMs: e.REQUEST_TIMEOUT * 1000,
    headersTimeoutMs: e.HEADERS_TIMEOUT * 1000,
    databaseQueryTimeoutMs: e.DB_QUERY_TIMEOUT * 1000,
    auditMemoryQueue: e.AUDIT_MEMORY_QUEUE,
  };
  return Object.freeze(config);
}
