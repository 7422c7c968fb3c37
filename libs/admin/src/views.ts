import { z } from 'zod';
import { AUDIT_OUTCOMES, AuditEvent, type AuditHour } from '@app/audit';
import type { Page } from '@app/database';
import {
  API_KEY_PREFIX,
  ApiKey,
  IssuedApiKey,
  PROTOCOL_POSTURES,
  protocolPosture,
  Tenant,
  TENANT_STATUSES,
} from '@app/tenancy';
import {
  grantKey,
  type PromptDefinition,
  type ResourceDefinition,
  type ResourceTemplateDefinition,
  type ToolDefinition,
} from '@app/tools';
import { schemaRef } from './openapi-schemas';

/**
 * A response shape, defined once: its zod schema (registered as an OpenAPI component under `name`)
 * and how an entity is rendered into it, which the compiler holds to the schema.
 */
export interface View<S extends z.ZodType, T> {
  readonly schema: S;
  readonly ref: { $ref: string };
  render(from: T): z.output<S>;
}

export function defineView<S extends z.ZodType, T>(
  name: string,
  schema: S,
  render: (from: T) => z.output<S>,
): View<S, T> {
  return { schema, ref: schemaRef(name, schema), render };
}

/** A cursor page of a view: `{items, nextCursor}`. */
export function pageOf<S extends z.ZodType, T>(name: string, item: View<S, T>) {
  return defineView(
    name,
    z.object({ items: z.array(item.schema), nextCursor: z.string().nullable() }),
    (p: Page<T>) => ({ items: p.items.map((i) => item.render(i)), nextCursor: p.nextCursor }),
  );
}

const timestamp = z.string().meta({ format: 'date-time' });
const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const TenantView = defineView(
  'Tenant',
  z.object({
    id: z.uuid(),
    slug: z.string(),
    name: z.string(),
    status: z.enum(TENANT_STATUSES),
    allowedOrigins: z.array(z.string()),
    rateLimits: z.object({
      keyPerMinute: z.number().optional(),
      tenantPerMinute: z.number().optional(),
      keyConcurrency: z.number().optional(),
      tenantConcurrency: z.number().optional(),
    }),
    protocol: z.enum(PROTOCOL_POSTURES),
    createdAt: timestamp,
    updatedAt: timestamp,
  }),
  (t: Tenant) => ({
    id: t.id,
    slug: t.slug,
    name: t.name,
    status: t.status,
    allowedOrigins: t.settings.allowedOrigins ?? [],
    rateLimits: t.settings.rateLimits ?? {},
    protocol: protocolPosture(t),
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  }),
);

const apiKeySchema = z.object({
  id: z.uuid(),
  tenant: z.string().meta({ description: 'slug of the owning tenant' }),
  name: z.string(),
  prefix: z.string().meta({ description: 'the public start of the key, mcp_<keyId>' }),
  scopes: z.array(z.string()),
  tools: z.array(z.string()).nullable(),
  resources: z.array(z.string()).nullable(),
  prompts: z.array(z.string()).nullable(),
  expiresAt: timestamp.nullable(),
  revokedAt: timestamp.nullable(),
  lastUsedAt: timestamp.nullable(),
  rotatedAt: timestamp.nullable(),
  rateLimitPerMinute: z.number().int().nullable(),
  previousSecretValidUntil: timestamp.nullable(),
  createdAt: timestamp,
});

/** Everything about a key an operator may see: never the secret, never its hash. */
export const ApiKeyView = defineView(
  'ApiKey',
  apiKeySchema,
  ({ key: k, tenant }: { key: ApiKey; tenant: Tenant }) => ({
    id: k.id,
    tenant: tenant.slug,
    name: k.name,
    prefix: `${API_KEY_PREFIX}${k.keyId}`,
    scopes: k.scopes,
    tools: k.tools,
    resources: k.resources,
    prompts: k.prompts,
    expiresAt: iso(k.expiresAt),
    revokedAt: iso(k.revokedAt),
    lastUsedAt: iso(k.lastUsedAt),
    rotatedAt: iso(k.rotatedAt),
    rateLimitPerMinute: k.rateLimitPerMinute,
    previousSecretValidUntil: iso(k.previousValidUntil),
    createdAt: k.createdAt.toISOString(),
  }),
);

/** The one response that carries a key's secret: the one that issued it. */
export const IssuedApiKeyView = defineView(
  'IssuedApiKey',
  apiKeySchema.extend({
    secret: z.string().meta({ description: 'the whole key; shown only in this response' }),
  }),
  ({ issued, tenant }: { issued: IssuedApiKey; tenant: Tenant }) => ({
    ...ApiKeyView.render({ key: issued.key, tenant }),
    secret: issued.token,
  }),
);

export const ToolView = defineView(
  'Tool',
  z.object({
    name: z.string(),
    title: z.string().nullable(),
    description: z.string(),
    requiredScopes: z.array(z.string()),
    enabled: z.boolean(),
    source: z
      .string()
      .nullable()
      .meta({ description: 'the tool source it comes from; null for a built-in tool' }),
  }),
  ({ tool: t, grants }: { tool: ToolDefinition; grants: ReadonlyMap<string, boolean> }) => ({
    name: t.name,
    title: t.title ?? null,
    description: t.description,
    requiredScopes: [...t.requiredScopes],
    enabled: grants.get(t.name) !== false,
    source: t.origin?.sourceName ?? null,
  }),
);

export const ResourceView = defineView(
  'Resource',
  z.object({
    name: z.string(),
    kind: z.enum(['resource', 'template']).meta({
      description: 'a resource at a fixed URI, or a template that names many (RFC 6570)',
    }),
    uri: z.string().nullable(),
    uriTemplate: z.string().nullable(),
    title: z.string().nullable(),
    description: z.string().nullable(),
    mimeType: z.string().nullable(),
    requiredScopes: z.array(z.string()),
    enabled: z.boolean(),
  }),
  ({
    resource: r,
    grants,
  }: {
    resource: ResourceDefinition | ResourceTemplateDefinition;
    grants: ReadonlyMap<string, boolean>;
  }) => ({
    name: r.name,
    kind: 'uri' in r ? ('resource' as const) : ('template' as const),
    uri: 'uri' in r ? r.uri : null,
    uriTemplate: 'uri' in r ? null : r.listEntry.uriTemplate,
    title: r.listEntry.title ?? null,
    description: r.listEntry.description ?? null,
    mimeType: r.listEntry.mimeType ?? null,
    requiredScopes: [...r.requiredScopes],
    enabled: grants.get(grantKey('resource', r.name)) !== false,
  }),
);

export const PromptView = defineView(
  'Prompt',
  z.object({
    name: z.string(),
    title: z.string().nullable(),
    description: z.string().nullable(),
    arguments: z.array(
      z.object({ name: z.string(), description: z.string().nullable(), required: z.boolean() }),
    ),
    requiredScopes: z.array(z.string()),
    enabled: z.boolean(),
  }),
  ({ prompt: p, grants }: { prompt: PromptDefinition; grants: ReadonlyMap<string, boolean> }) => ({
    name: p.name,
    title: p.listEntry.title ?? null,
    description: p.listEntry.description ?? null,
    arguments: (p.listEntry.arguments ?? []).map((a) => ({
      name: a.name,
      description: a.description ?? null,
      required: a.required,
    })),
    requiredScopes: [...p.requiredScopes],
    enabled: grants.get(grantKey('prompt', p.name)) !== false,
  }),
);

export const TenantAuthView = defineView(
  'TenantAuth',
  z.object({
    jwt: z
      .object({
        issuer: z.string(),
        jwksUri: z.string().optional(),
        audience: z.string().optional(),
        scopesClaim: z.string().optional(),
        algorithms: z.array(z.string()).optional(),
      })
      .nullable(),
    introspection: z
      .object({
        endpoint: z.string(),
        clientId: z.string(),
        clientSecretSet: z.boolean().describe('The secret itself is write-only'),
        audience: z.string().optional(),
        scopesClaim: z.string().optional(),
      })
      .optional()
      .describe('Absent when not set'),
    external: z
      .object({
        url: z.string(),
        headers: z.array(z.string()),
        timeoutMs: z.number().optional(),
        cacheSeconds: z.number().optional(),
      })
      .optional()
      .describe('Absent when not set'),
  }),
  (t: Tenant) => {
    const auth = t.settings.auth;
    const introspection = auth?.introspection;
    return {
      jwt: auth?.jwt ?? null,
      ...(introspection && {
        introspection: {
          endpoint: introspection.endpoint,
          clientId: introspection.clientId,
          clientSecretSet: !!introspection.clientSecretSealed,
          ...(introspection.audience ? { audience: introspection.audience } : {}),
          ...(introspection.scopesClaim ? { scopesClaim: introspection.scopesClaim } : {}),
        },
      }),
      ...(auth?.external && { external: auth.external }),
    };
  },
);

export const AuditEventView = defineView(
  'AuditEvent',
  z.object({
    id: z.string(),
    at: timestamp,
    actorKind: z.string(),
    actorId: z.string(),
    action: z.string(),
    tool: z.string().nullable(),
    keyId: z.string().nullable(),
    outcome: z.enum(AUDIT_OUTCOMES).nullable(),
    durationMs: z.number().nullable(),
    requestId: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()),
  }),
  (e: AuditEvent) => ({
    id: e.id,
    at: e.at.toISOString(),
    actorKind: e.actorKind,
    actorId: e.actorId,
    action: e.action,
    tool: e.tool,
    keyId: e.keyId,
    outcome: e.outcome,
    durationMs: e.durationMs,
    requestId: e.requestId,
    detail: e.detail,
  }),
);

export const AuditHourlyView = defineView(
  'AuditHourly',
  z.object({
    from: timestamp,
    to: timestamp,
    hours: z.array(
      z.object({
        hour: timestamp,
        calls: z.number().meta({ description: 'tool calls, whatever their outcome' }),
        errors: z.number().meta({ description: 'events whose outcome was error' }),
        denials: z.number().meta({
          description: 'events whose outcome was denied: refused calls and refused credentials',
        }),
      }),
    ),
  }),
  (hours: AuditHour[]) => ({
    from: (hours[0]?.hour ?? new Date()).toISOString(),
    to: new Date((hours[hours.length - 1]?.hour.getTime() ?? Date.now()) + 3_600_000).toISOString(),
    hours: hours.map((h) => ({
      hour: h.hour.toISOString(),
      calls: h.calls,
      errors: h.errors,
      denials: h.denials,
    })),
  }),
);
