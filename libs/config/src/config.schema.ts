import { isIP } from 'node:net';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `expected a ${protocols.join(' or ')} URL` },
  );

const positiveInt = z.coerce.number().int().positive();

/** `10.0.0.0/8`, `fd00::/8` or a bare address (a /32 or /128). */
export function isCidr(v: string): boolean {
  const [addr, bits, ...rest] = v.split('/');
  const family = isIP(addr ?? '');
  if (!family || rest.length) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n >= 0 && n <= (family === 4 ? 32 : 128);
}

export const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  ADMIN_TOKEN: z
    .string()
    .min(32, { message: 'must be at least 32 characters' })
    .refine((t) => !t.startsWith('mcp_') && !t.includes('.') && !/\s/.test(t), {
      message:
        'must not start with mcp_ or contain dots or spaces (those shapes are API keys and JWTs)',
    })
    .optional(),
  SECRETS_KEY: z
    .string()
    .min(32, { message: 'must be at least 32 characters' })
    .optional()
    .describe('master secret for sealed request state and secrets at rest'),
  SECRETS_KEY_PREVIOUS: z
    .string()
    .min(32, { message: 'must be at least 32 characters' })
    .optional()
    .describe('the SECRETS_KEY before a rotation: secrets sealed with it are re-sealed at start'),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  EGRESS_ALLOW: z
    .string()
    .default('')
    .refine((v) => v.split(',').every((c) => !c.trim() || isCidr(c.trim())), {
      message: 'expected comma-separated CIDRs such as 127.0.0.0/8,10.1.0.0/16',
    })
    .describe(
      "comma-separated CIDRs the platform may fetch from on a tenant's behalf although they are internal",
    ),
  SOURCE_TIMEOUT: positiveInt
    .default(30)
    .describe("seconds a call to a tenant's tool source may take before it fails"),
  SOURCE_BREAKER_OPEN: positiveInt
    .default(30)
    .describe('seconds calls to a tool source pause after 5 failures in a row'),
  SOURCE_CONCURRENCY: positiveInt
    .default(16)
    .describe('calls in flight to one tool source; more wait briefly, then fail'),
  MCP_STATELESS: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FILE: z.string().min(1).optional().describe('append JSON logs here instead of stdout'),
  SESSION_IDLE_TTL: positiveInt.default(900).describe('seconds'),
  REQUEST_STATE_TTL: positiveInt
    .default(600)
    .describe('seconds a 2026-07-28 input_required requestState stays good for its one retry'),
  MAX_SESSIONS_PER_TENANT: positiveInt.default(1000),
  API_KEY_CACHE_TTL: z.coerce.number().int().min(0).default(30).describe('seconds'),
  ALLOWED_ORIGINS: z.string().default(''),
  AUDIT_RETENTION_DAYS: positiveInt.default(90),
  METRICS_TOKEN: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
  RATE_LIMIT_KEY_PER_MINUTE: z.coerce.number().int().min(0).default(600),
  RATE_LIMIT_TENANT_PER_MINUTE: z.coerce.number().int().min(0).default(6000),
  AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(0).default(30),
  ADMIN_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(0).default(10),
  MAX_INFLIGHT_PER_TENANT: z.coerce.number().int().min(0).default(64),
  MAX_INFLIGHT_PER_KEY: z.coerce.number().int().min(0).default(32),
  MAX_ARGUMENT_BYTES: positiveInt.max(1024 * 1024).default(256 * 1024),
  MAX_ARGUMENT_ELEMENTS: positiveInt.default(10_000),
  MAX_ARGUMENT_DEPTH: positiveInt.max(64).default(32),
  REQUEST_TIMEOUT: positiveInt.default(30).describe('seconds to receive a whole request'),
  HEADERS_TIMEOUT: positiveInt.default(10).describe('seconds to receive request headers'),
  DB_QUERY_TIMEOUT: positiveInt.default(5).describe('seconds'),
  SHUTDOWN_TIMEOUT: positiveInt.default(10).describe('seconds'),
  AUDIT_MEMORY_QUEUE: positiveInt.default(5000).describe('audit events in memory; more spill'),
});

export type Env = z.input<typeof envSchema>;
