import { z } from 'zod';
import { AUDIT_OUTCOMES } from '@app/audit';
import { EXTERNAL_RESERVED_HEADERS, JWT_ALGORITHMS } from '@app/auth';
import { PROTOCOL_POSTURES, SLUG_PATTERN, TENANT_STATUSES } from '@app/tenancy';

export const SCOPE_PATTERN = /^[a-z][a-z0-9_-]{0,31}:[a-z][a-z0-9_-]{0,31}$/;
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_GRACE_SECONDS = 30 * 24 * 3600;

const hasControlCharacters = (s: string) =>
  [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1, { message: 'must not be empty' })
    .max(max, { message: `must be at most ${max} characters` })
    .refine((s) => !hasControlCharacters(s), {
      message: 'must not contain control characters',
    });

const future = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z' })
  .transform((s) => new Date(s))
  .refine((d) => d.getTime() > Date.now(), { message: 'must be in the future' });

export const scopes = z
  .array(
    z.string().regex(SCOPE_PATTERN, {
      message: 'each scope must look like resource:action (lowercase), e.g. notes:read',
    }),
  )
  .max(50)
  .transform((s) => [...new Set(s)]);

const protocol = z
  .enum(PROTOCOL_POSTURES)
  .describe(
    'MCP protocol eras the endpoint serves: dual (2026-07-28 and 2025, the default), modern-only (2026-07-28) or legacy-only (2025 and the legacy SSE transport)',
  );

const perMinute = z.number().int().min(0).max(1_000_000);
const concurrency = z.number().int().min(0).max(100_000);

const tools = z
  .array(
    z
      .string()
      .regex(TOOL_NAME_PATTERN, { message: 'each tool must be a tool name, e.g. notes_get' }),
  )
  .max(200)
  .transform((t) => [...new Set(t)]);

const capabilityNames = (what: string) =>
  z
    .array(
      z
        .string()
        .min(1)
        .max(128)
        .regex(/^[^\s,]+$/, { message: `each entry must be a ${what} name (no spaces or commas)` }),
    )
    .max(200)
    .transform((t) => [...new Set(t)]);
const resources = capabilityNames('resource or resource template');
const prompts = capabilityNames('prompt');

const origins = z
  .array(
    z.string().refine(
      (o) => {
        try {
          const u = new URL(o);
          return (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === o;
        } catch {
          return false;
        }
      },
      {
        message:
          'each origin must be scheme://host[:port] with no path, e.g. https://app.example.com',
      },
    ),
  )
  .max(50)
  .transform((o) => [...new Set(o)]);

export const CreateTenantBody = z.strictObject({
  slug: z.string().regex(SLUG_PATTERN, {
    message:
      'must be 1-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen',
  }),
  name: text(200),
  allowedOrigins: origins.optional(),
  protocol: protocol.optional(),
});

export const UpdateTenantBody = z
  .strictObject({
    name: text(200).optional(),
    status: z.enum(TENANT_STATUSES).optional(),
    allowedOrigins: origins.optional(),
    rateLimits: z
      .strictObject({
        keyPerMinute: perMinute.optional(),
        tenantPerMinute: perMinute.optional(),
        keyConcurrency: concurrency
          .optional()
          .describe('requests one credential may have in flight at once; 0: no cap'),
        tenantConcurrency: concurrency
          .optional()
          .describe('requests the whole tenant may have in flight at once; 0: no cap'),
      })
      .optional(),
    protocol: protocol.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, {
    message: 'nothing to change: send name, status, allowedOrigins, rateLimits and/or protocol',
  });

export const SetToolBody = z.strictObject({ enabled: z.boolean() });

export const CreateKeyBody = z.strictObject({
  name: text(200),
  scopes,
  tools: tools.nullable().optional(),
  resources: resources
    .nullable()
    .optional()
    .describe('resource and resource-template names the key is limited to; null: no limit'),
  prompts: prompts
    .nullable()
    .optional()
    .describe('prompt names the key is limited to; null: no limit'),
  expiresAt: future.nullable().optional(),
  rateLimitPerMinute: perMinute.nullable().optional(),
});

export const UpdateKeyBody = z
  .strictObject({
    name: text(200).optional(),
    scopes: scopes.optional(),
    tools: tools.nullable().optional(),
    resources: resources.nullable().optional(),
    prompts: prompts.nullable().optional(),
    expiresAt: future.nullable().optional(),
    rateLimitPerMinute: perMinute.nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, {
    message:
      'nothing to change: send name, scopes, tools, resources, prompts, expiresAt and/or rateLimitPerMinute',
  });

export const RotateKeyBody = z
  .strictObject({
    graceSeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_GRACE_SECONDS, { message: `must be at most ${MAX_GRACE_SECONDS} (30 days)` })
      .default(0),
  })
  .optional()
  .transform((b) => b ?? { graceSeconds: 0 });

export const PageQuery = z.strictObject({
  limit: z.coerce
    .number({ message: 'must be a whole number from 1 to 200' })
    .int({ message: 'must be a whole number from 1 to 200' })
    .min(1, { message: 'must be a whole number from 1 to 200' })
    .max(200, { message: 'must be a whole number from 1 to 200' })
    .default(50),
  cursor: z.string().max(200).optional(),
});

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
/** A DNS name, an IPv4 address or a bracketed IPv6 address, as the URL parser leaves them. */
const HOSTNAME =
  /^(?:(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?))*|\[[0-9a-f:.]+\])$/;

const secureUrl = (what: string) =>
  z
    .string()
    .max(2000)
    .refine(
      (v) => {
        try {
          const u = new URL(v);
          // The URL parser accepts hosts like "&"; credentials in it would be shown back and logged.
          if (!HOSTNAME.test(u.hostname) || u.username || u.password) return false;
          return u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.has(u.hostname));
        } catch {
          return false;
        }
      },
      {
        message: `${what} must be an https URL with a host name and no credentials (http only for localhost)`,
      },
    );

const scopesClaim = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/, {
    message: 'must be a claim name or dotted path, e.g. scp, permissions or realm_access.roles',
  })
  .optional()
  .describe(
    'Claim holding the scopes (space-separated string or array); a dotted path reads nested claims. Default: scope, then scp',
  );

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;

/** Each part: absent leaves it as it is, null removes it, an object sets it. */
export const TenantAuthBody = z
  .strictObject({
    jwt: z
      .strictObject({
        issuer: secureUrl('issuer'),
        jwksUri: secureUrl('jwksUri')
          .optional()
          .describe(
            "Absent: read from the issuer's OpenID Connect discovery document or RFC 8414 metadata",
          ),
        audience: z.string().min(1).max(500).optional(),
        scopesClaim,
        algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).optional(),
      })
      .nullable()
      .optional(),
    introspection: z
      .strictObject({
        endpoint: secureUrl('endpoint'),
        clientId: z.string().min(1).max(500),
        clientSecret: z
          .string()
          .min(1)
          .max(2000)
          .optional()
          .describe('Write-only. Required the first time; absent keeps the stored one'),
        audience: z.string().min(1).max(500).optional(),
        scopesClaim,
      })
      .nullable()
      .optional(),
    external: z
      .strictObject({
        url: secureUrl('url'),
        headers: z
          .array(
            z
              .string()
              .regex(HEADER_NAME, { message: 'must be an HTTP header name' })
              .transform((h) => h.toLowerCase())
              .refine((h) => !EXTERNAL_RESERVED_HEADERS.includes(h), {
                message: `must not be one of ${EXTERNAL_RESERVED_HEADERS.join(', ')} (the platform reads those itself)`,
              }),
          )
          .min(1)
          .max(8)
          .refine((hs) => new Set(hs).size === hs.length, { message: 'must not repeat a header' })
          .describe('Header names whose values are posted to url, e.g. ["X-User", "X-Pass"]'),
        timeoutMs: z.number().int().min(100).max(10_000).optional().describe('Default 3000'),
        cacheSeconds: z
          .number()
          .int()
          .min(0)
          .max(3600)
          .optional()
          .describe(
            'How long an answer is reused (never beyond its expiresIn); default 60, 0: never',
          ),
      })
      .nullable()
      .optional(),
  })
  .refine((b) => Object.keys(b).length > 0, {
    message: 'give at least one of jwt, introspection and external (null removes one)',
  });

const instant = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z' })
  .transform((s) => new Date(s));

export const AuditHourlyQuery = z.strictObject({
  hours: z.coerce
    .number({ message: 'must be a whole number of hours from 1 to 168 (a week)' })
    .int({ message: 'must be a whole number of hours from 1 to 168 (a week)' })
    .min(1, { message: 'must be a whole number of hours from 1 to 168 (a week)' })
    .max(168, { message: 'must be a whole number of hours from 1 to 168 (a week)' })
    .default(24),
});

export const AuditQuery = z.strictObject({
  limit: PageQuery.shape.limit,
  cursor: z.string().max(40).optional(),
  tool: z.string().regex(TOOL_NAME_PATTERN, { message: 'must be a tool name' }).optional(),
  keyId: z.uuid({ message: 'must be an API key id (uuid)' }).optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  action: z
    .string()
    .regex(/^[a-z]+\.[a-z_]+$/, { message: 'must be an action like tool.call or key.revoke' })
    .optional(),
  from: instant.optional(),
  to: instant.optional(),
});
