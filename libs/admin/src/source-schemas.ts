import { z } from 'zod';
import { PREFIX_RULE } from '@app/sources';
import { scopes } from './schemas';

const sourceName = (what: string) =>
  z.string().regex(PREFIX_RULE, {
    message: `${what} must be 1-32 lowercase letters, digits or dashes, starting with a letter, e.g. github`,
  });

const HOST =
  /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$|^\[[0-9a-f:.]+\]$/;

/** Query parameters that carry credentials: in a URL they would be shown back and logged. */
const CREDENTIAL_PARAM = /key|token|secret|password|passwd|auth|signature|sig$|session/i;

/** An http(s) URL with a host; no credentials in it (they would be shown back and logged). */
const upstreamUrl = (what: string) =>
  z
    .string()
    .max(2000)
    .refine(
      (v) => {
        try {
          const u = new URL(v);
          return (
            (u.protocol === 'https:' || u.protocol === 'http:') &&
            HOST.test(u.hostname) &&
            !u.username &&
            !u.password &&
            !u.hash &&
            ![...u.searchParams.keys()].some((k) => CREDENTIAL_PARAM.test(k))
          );
        } catch {
          return false;
        }
      },
      {
        message: `${what} must be an http or https URL with a host, without credentials (put them in headers or credential, which are write-only) or a #fragment`,
      },
    );

/** Headers the platform sets itself, or that would change how the request travels. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'accept',
  'accept-encoding',
  'proxy-authorization',
  'proxy-connection',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'last-event-id',
]);

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;

const headerName = z
  .string()
  .regex(HEADER_NAME, { message: 'must be an HTTP header name' })
  .refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), {
    message: 'is set by the platform itself and cannot be injected',
  });

const headerValue = z
  .string()
  .min(1)
  .max(8192)
  .refine((v) => !/[\r\n\0]/.test(v), { message: 'must not contain line breaks' });

const headers = z
  .record(z.string(), headerValue)
  .superRefine((h, ctx) => {
    const names = Object.keys(h);
    if (names.length > 20) ctx.addIssue({ code: 'custom', message: 'at most 20 headers' });
    for (const name of names) {
      const checked = headerName.safeParse(name);
      if (!checked.success) {
        ctx.addIssue({ code: 'custom', path: [name], message: checked.error.issues[0].message });
      }
    }
  })
  .describe('headers sent with every request to the upstream (write-only: values are secrets)');

const toolScopes = z
  .record(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, { message: 'must be a tool name' }), scopes)
  .refine((t) => Object.keys(t).length <= 500, { message: 'at most 500 tools' })
  .describe(
    "scopes per tool, by the source's own tool name (without the prefix); replace `scopes` for that tool",
  );

const common = {
  name: sourceName('name'),
  prefix: sourceName('prefix')
    .optional()
    .describe('start of every tool name of this source (`<prefix>_<tool>`); defaults to name'),
  scopes: scopes.optional().describe('scopes a caller needs for every tool of the source'),
  toolScopes: toolScopes.optional(),
  enabled: z.boolean().optional(),
};

const transport = z
  .enum(['auto', 'streamable-http', 'sse'])
  .describe('auto (default): Streamable HTTP in the newest era offered, else legacy HTTP+SSE');

const names = (what: string) =>
  z.array(z.string().min(1).max(200)).max(500).describe(`${what} to expose`);

const operations = z
  .strictObject({ tags: names('tags').optional(), operationIds: names('operationIds').optional() })
  .describe(
    'which operations become tools: those with any of the tags, plus those listed; all when absent',
  );

const credential = z
  .union(
    [
      z.strictObject({ header: headerName, value: headerValue }),
      z.strictObject({
        tokenUrl: upstreamUrl('tokenUrl'),
        clientId: z.string().min(1).max(500),
        clientSecret: z.string().min(1).max(2000),
        scope: z.string().max(1000).optional(),
      }),
    ],
    { error: 'credential must be {header, value} or {tokenUrl, clientId, clientSecret, scope?}' },
  )
  .describe(
    'the API’s own credential, injected into every call: a header, or OAuth client credentials (write-only)',
  );

const document = z
  .union([z.record(z.string(), z.unknown()), z.string().min(1)])
  .describe('the OpenAPI 3.x document, as an object or as JSON or YAML text');

export const McpSourceBody = z.strictObject({
  kind: z.literal('mcp'),
  ...common,
  url: upstreamUrl('url').describe('the upstream’s MCP endpoint (Streamable HTTP or legacy SSE)'),
  transport: transport.optional(),
  headers: headers.optional(),
});

export const OpenApiSourceBody = z
  .strictObject({
    kind: z.literal('openapi'),
    ...common,
    document: document.optional(),
    documentUrl: upstreamUrl('documentUrl')
      .optional()
      .describe('where to fetch the document (on create and on every refresh)'),
    baseUrl: upstreamUrl('baseUrl').describe(
      'where the API is served; operation paths are added to it',
    ),
    operations: operations.optional(),
    credential: credential.optional(),
  })
  .refine((b) => (b.document === undefined) !== (b.documentUrl === undefined), {
    message: 'send either document or documentUrl',
    path: ['document'],
  });

export const CreateSourceBody = z.discriminatedUnion('kind', [McpSourceBody, OpenApiSourceBody], {
  error:
    'kind must be "mcp" (an upstream MCP server) or "openapi" (an HTTP API with an OpenAPI document)',
});

export const UpdateSourceBody = z
  .strictObject({
    ...common,
    name: common.name.optional(),
    url: upstreamUrl('url').optional(),
    transport: transport.optional(),
    headers: headers.nullable().optional(),
    document: document.optional(),
    documentUrl: upstreamUrl('documentUrl').optional(),
    baseUrl: upstreamUrl('baseUrl').optional(),
    operations: operations.nullable().optional(),
    credential: credential.nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to change' })
  .refine((b) => b.document === undefined || b.documentUrl === undefined, {
    message: 'send either document or documentUrl, not both',
    path: ['document'],
  });
