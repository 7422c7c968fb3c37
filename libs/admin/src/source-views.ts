import { z } from 'zod';
import {
  type McpSourceConfig,
  type OpenApiSourceConfig,
  SOURCE_KINDS,
  type SourceHealth,
  sourceToolName,
  type ToolSourceRecord,
  unnamedReason,
} from '@app/sources';
import { defineView, pageOf } from './views';

const timestamp = z.string().meta({ format: 'date-time' });
const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
const later = (a: Date | null | undefined, b: Date | null | undefined) =>
  a && b ? (a > b ? a : b) : (a ?? b);

const SourceToolSchema = z.object({
  name: z.string().meta({ description: 'the name clients call: <prefix>_<upstreamName>' }),
  upstreamName: z.string(),
  title: z.string().nullable(),
  description: z.string(),
  requiredScopes: z.array(z.string()),
  enabled: z.boolean().meta({ description: 'the tenant’s switch (PUT …/tools/:name)' }),
});

const SourceSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  kind: z.enum(SOURCE_KINDS),
  prefix: z.string(),
  enabled: z.boolean(),
  scopes: z.array(z.string()),
  toolScopes: z.record(z.string(), z.array(z.string())),
  mcp: z
    .object({
      url: z.string(),
      transport: z.enum(['auto', 'streamable-http', 'sse']),
      headers: z
        .array(z.string())
        .meta({ description: 'names of the injected headers (their values are never shown)' }),
    })
    .nullable(),
  openapi: z
    .object({
      baseUrl: z.string(),
      documentUrl: z.string().nullable(),
      inlineDocument: z.boolean(),
      operations: z
        .object({
          tags: z.array(z.string()).optional(),
          operationIds: z.array(z.string()).optional(),
        })
        .nullable(),
      credential: z
        .union([
          z.object({ kind: z.literal('header'), header: z.string() }),
          z.object({
            kind: z.literal('oauth'),
            tokenUrl: z.string(),
            clientId: z.string(),
            scope: z.string().nullable(),
          }),
        ])
        .nullable()
        .meta({ description: 'how the API’s credential is injected (never the secret itself)' }),
    })
    .nullable(),
  tools: z.array(SourceToolSchema),
  skipped: z.array(z.object({ name: z.string(), reason: z.string() })).meta({
    description: 'tools or operations the source has that are not in the catalog, and why',
  }),
  health: z.object({
    refreshedAt: timestamp.nullable(),
    lastSuccessAt: timestamp.nullable(),
    lastErrorAt: timestamp.nullable(),
    lastError: z.string().nullable(),
    latencyMs: z.number().int().nullable(),
    breaker: z
      .enum(['closed', 'open', 'half-open'])
      .meta({ description: 'open: calls are paused after repeated failures (on this replica)' }),
  }),
  createdAt: timestamp,
  updatedAt: timestamp,
});

export interface SourceViewInput {
  source: ToolSourceRecord;
  grants: ReadonlyMap<string, boolean>;
  health: SourceHealth;
}

function render({ source: s, grants, health }: SourceViewInput): z.output<typeof SourceSchema> {
  const mcp = s.kind === 'mcp' ? (s.config as McpSourceConfig) : undefined;
  const api = s.kind === 'openapi' ? (s.config as OpenApiSourceConfig) : undefined;
  const tools: z.output<typeof SourceToolSchema>[] = [];
  const skipped = [...s.skipped];
  for (const t of s.catalog) {
    const name = sourceToolName(s.prefix, t.name);
    if (!name) {
      skipped.push({ name: t.name, reason: unnamedReason(s.prefix, t.name) ?? 'invalid name' });
      continue;
    }
    tools.push({
      name,
      upstreamName: t.name,
      title: t.title ?? null,
      description: t.description,
      requiredScopes: [...(s.toolScopes[t.name] ?? s.scopes)].sort(),
      enabled: grants.get(name) !== false,
    });
  }
  // A replica's own calls may be newer than what the row says (they are written every few s).
  const lastSuccess = later(s.lastSuccessAt, health.lastSuccessAt);
  const lastErrorAt = later(s.lastErrorAt, health.lastErrorAt);
  const c = api?.credential;
  return {
    id: s.id,
    name: s.name,
    kind: s.kind,
    prefix: s.prefix,
    enabled: s.enabled,
    scopes: s.scopes,
    toolScopes: s.toolScopes,
    mcp: mcp ? { url: mcp.url, transport: mcp.transport, headers: mcp.headerNames } : null,
    openapi: api
      ? {
          baseUrl: api.baseUrl,
          documentUrl: api.documentUrl ?? null,
          inlineDocument: !api.documentUrl,
          operations: api.operations ?? null,
          credential: !c
            ? null
            : c.kind === 'header'
              ? { kind: 'header', header: c.header }
              : {
                  kind: 'oauth',
                  tokenUrl: c.tokenUrl,
                  clientId: c.clientId,
                  scope: c.scope ?? null,
                },
        }
      : null,
    tools,
    skipped,
    health: {
      refreshedAt: iso(s.refreshedAt),
      lastSuccessAt: iso(lastSuccess),
      lastErrorAt: iso(lastErrorAt),
      lastError:
        health.lastErrorAt && (!s.lastErrorAt || health.lastErrorAt > s.lastErrorAt)
          ? (health.lastError ?? null)
          : s.lastError,
      latencyMs: health.latencyMs ?? s.latencyMs,
      breaker: health.breaker,
    },
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

/** A tool source as its admins see it: settings, tools, health; never a secret. */
export const SourceView = defineView('ToolSource', SourceSchema, render);

export const SourcePage = pageOf('ToolSourcePage', SourceView);
