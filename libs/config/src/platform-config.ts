import { envSchema } from './config.schema';

/** The validated, typed configuration. Injected by class token. */
export class PlatformConfig {
  readonly port!: number;
  readonly host!: string;
  readonly publicUrl!: string;
  readonly databaseUrl?: string;
  readonly dataDir!: string;
  readonly adminToken?: string;
  readonly redisUrl?: string;
  readonly mcpStateless!: boolean;
  readonly logLevel!: string;
  readonly logFile?: string;
  readonly sessionIdleTtlMs!: number;
  readonly maxSessionsPerTenant!: number;
  readonly apiKeyCacheTtlMs!: number;
  readonly allowedOrigins!: readonly string[];
  readonly shutdownTimeoutMs!: number;
  readonly auditRetentionDays!: number;
  readonly metricsToken?: string;
  /** Requests per minute; 0 turns the limit off. */
  readonly rateLimitKeyPerMinute!: number;
  readonly rateLimitTenantPerMinute!: number;
  readonly authFailuresPerMinute!: number;
  /** Benchmarks only: registers this many synthetic tools (bench_tool_NNN). */
  readonly benchToolPack!: number;
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
  const hostForUrl = e.HOST === '0.0.0.0' || e.HOST === '::' ? 'localhost' : e.HOST;
  const config: PlatformConfig = {
    port: e.PORT,
    host: e.HOST,
    publicUrl: (e.PUBLIC_URL ?? `http://${hostForUrl}:${e.PORT}`).replace(/\/+$/, ''),
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    adminToken: e.ADMIN_TOKEN,
    redisUrl: e.REDIS_URL,
    mcpStateless: e.MCP_STATELESS,
    logLevel: e.LOG_LEVEL,
    logFile: e.LOG_FILE,
    sessionIdleTtlMs: e.SESSION_IDLE_TTL * 1000,
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
    benchToolPack: e.BENCH_TOOL_PACK,
  };
  return Object.freeze(config);
}
