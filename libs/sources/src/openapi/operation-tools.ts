import Ajv2020 from 'ajv/dist/2020';
import {
  type HttpMethod,
  type OpenApiDocument,
  type OpenApiOperation,
  type ParameterLocation,
} from './document';
import { OpenApiDocumentError } from './errors';
import { toJsonSchema } from './json-schema';
import { OPENAPI_LIMITS } from './limits';
import { bodyEncoding } from './media-types';

/** Absent or empty: every operation. Both given: the union. */
export interface OperationSelection {
  tags?: readonly string[];
  operationIds?: readonly string[];
}

/** What the source sets itself, so no tool takes it as an argument. */
export interface OperationToolOptions {
  /**
   * Headers the source's credential injects (its header, whatever the document declares): a
   * parameter of that name would let a caller add a value of its own beside the credential.
   */
  credentialHeaders?: readonly string[];
}

export interface OpenApiToolParameter {
  name: string;
  in: ParameterLocation;
  required: boolean;
  /** The property of the tool's arguments that carries it. */
  arg: string;
  style?: string;
  explode?: boolean;
  /** Set for a parameter described by `content`: its value is sent serialized as this (JSON). */
  mediaType?: string;
}

export interface OpenApiOperationTool {
  /** As in the document; derived from method and path (`get_pets_petId`) where it has none. */
  operationId: string;
  /** The tool name suffix: [A-Za-z0-9_.-], 1 to 64 characters, unique in the document, stable. */
  name: string;
  title?: string;
  description: string;
  inputSchema: {
    type: 'object';
    properties: Record<string, unknown>;
    required?: string[];
    additionalProperties: false;
  };
  method: HttpMethod;
  path: string;
  parameters: OpenApiToolParameter[];
  body?: { arg: string; mediaType: string; required: boolean };
  annotations: {
    readOnlyHint?: boolean;
    destructiveHint?: boolean;
    idempotentHint?: boolean;
    openWorldHint: true;
  };
  tags: string[];
}

export interface OperationTools {
  tools: OpenApiOperationTool[];
  skipped: { operationId: string; reason: string }[];
}

/**
 * Headers a parameter may not set: hop-by-hop and credential headers (the platform injects the
 * credential, and it must win), and the ones OpenAPI says to ignore as parameters.
 */
export const RESERVED_HEADER_PARAMETERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'te',
  'upgrade',
  'accept',
  'content-type',
]);

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TOOL_NAME = new RegExp(`^[A-Za-z0-9_.-]{1,${OPENAPI_LIMITS.maxToolNameLength}}$`);
const LOCATION_ORDER: readonly ParameterLocation[] = ['path', 'query', 'header', 'cookie'];

// Only for checking generated schemas against the 2020-12 meta-schema; nothing is compiled.
const metaValidator = new Ajv2020({ strict: false, logger: false });

export function operationTools(
  doc: OpenApiDocument,
  selection: OperationSelection = {},
  options: OperationToolOptions = {},
): OperationTools {
  const ids = operationIds(doc.operations);
  const names = toolNames(ids);
  const selected = select(doc.operations, ids, selection);
  const tools: OpenApiOperationTool[] = [];
  const skipped: OperationTools['skipped'] = [];
  doc.operations.forEach((op, i) => {
    if (!selected[i]) return;
    const built = buildTool(doc, op, ids[i], names[i], options);
    if (typeof built === 'string') skipped.push({ operationId: ids[i], reason: built });
    else tools.push(built);
  });
  return { tools, skipped };
}

function operationIds(operations: readonly OpenApiOperation[]): string[] {
  const taken = new Set(
    operations.flatMap((op) => (op.operationId !== undefined ? [op.operationId] : [])),
  );
  return operations.map((op) => {
    if (op.operationId !== undefined) return op.operationId;
    const base =
      `${op.method.toLowerCase()}_${op.path}`
        .replace(/[{}]/g, '')
        .replace(/[^A-Za-z0-9]+/g, '_')
        .replace(/^_+|_+$/g, '') || op.method.toLowerCase();
    return claim(taken, base, Infinity);
  });
}

/** Names already valid keep them, so a sanitized name never displaces a document's own. */
function toolNames(ids: readonly string[]): string[] {
  const taken = new Set(ids.filter((id) => TOOL_NAME.test(id)));
  return ids.map((id) => {
    if (TOOL_NAME.test(id)) return id;
    const base =
      id.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, OPENAPI_LIMITS.maxToolNameLength) || 'operation';
    return claim(taken, base, OPENAPI_LIMITS.maxToolNameLength);
  });
}

function claim(taken: Set<string>, base: string, maxLength: number): string {
  let name = base;
  for (let n = 2; taken.has(name); n++) {
    const suffix = `_${n}`;
    name = base.slice(0, maxLength - suffix.length) + suffix;
  }
  taken.add(name);
  return name;
}

function listKnown(values: readonly string[]): string {
  const shown = values.slice(0, 20).join(', ');
  return values.length > 20 ? `${shown}, … (${values.length} in all)` : shown || 'none';
}

function select(
  operations: readonly OpenApiOperation[],
  ids: readonly string[],
  selection: OperationSelection,
): boolean[] {
  const wantedTags = new Set(selection.tags ?? []);
  const wantedIds = new Set(selection.operationIds ?? []);
  if (!wantedTags.size && !wantedIds.size) return operations.map(() => true);
  const knownTags = [...new Set(operations.flatMap((op) => op.tags))];
  const problems: string[] = [];
  const unknownIds = [...wantedIds].filter((id) => !ids.includes(id));
  if (unknownIds.length)
    problems.push(`operationIds: unknown ${unknownIds.join(', ')} (known: ${listKnown(ids)})`);
  const unknownTags = [...wantedTags].filter((t) => !knownTags.includes(t));
  if (unknownTags.length)
    problems.push(`tags: unknown ${unknownTags.join(', ')} (known: ${listKnown(knownTags)})`);
  if (problems.length) throw new OpenApiDocumentError(problems.join('; '));
  return operations.map((op, i) => wantedIds.has(ids[i]) || op.tags.some((t) => wantedTags.has(t)));
}

/**
 * Parameters the platform's credential sets itself: an apiKey scheme's header, query or cookie,
 * and the header the source's credential is configured to use.
 */
function credentialParameters(doc: OpenApiDocument, options: OperationToolOptions): Set<string> {
  const out = new Set<string>(
    (options.credentialHeaders ?? []).map((h) => parameterKey('header', h)),
  );
  for (const scheme of Object.values(doc.securitySchemes)) {
    if (
      scheme.type === 'apiKey' &&
      typeof scheme.name === 'string' &&
      typeof scheme.in === 'string'
    ) {
      out.add(parameterKey(scheme.in, scheme.name));
    }
  }
  return out;
}

function parameterKey(location: string, name: string): string {
  return `${location}:${location === 'header' ? name.toLowerCase() : name}`;
}

function buildTool(
  doc: OpenApiDocument,
  op: OpenApiOperation,
  operationId: string,
  name: string,
  options: OperationToolOptions,
): OpenApiOperationTool | string {
  if (op.problem) return op.problem;
  if (op.method === 'TRACE')
    return 'TRACE operations are not exposed: the upstream would echo the request, credentials included';
  const templateNames = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  const declared = new Set(op.parameters.filter((p) => p.in === 'path').map((p) => p.name));
  const undeclared = templateNames.filter((n) => !declared.has(n));
  if (undeclared.length)
    return `path parameter ${undeclared.map((n) => `{${n}}`).join(', ')} is not declared`;

  const credentials = credentialParameters(doc, options);
  const usable = op.parameters.filter((p) => {
    // As a property key, __proto__ would set the schema's prototype.
    if (p.name === '__proto__' || credentials.has(parameterKey(p.in, p.name))) return false;
    if (p.in === 'path') return templateNames.includes(p.name);
    if (p.in === 'cookie') return HEADER_NAME.test(p.name);
    if (p.in === 'header')
      return HEADER_NAME.test(p.name) && !RESERVED_HEADER_PARAMETERS.has(p.name.toLowerCase());
    return true;
  });
  const ordered = LOCATION_ORDER.flatMap((location) => usable.filter((p) => p.in === location));

  // A name used once keeps it; of a name used in several locations the first (path, query,
  // header, cookie) keeps it and the others take their location as a prefix.
  const taken = new Set<string>();
  const plain = new Set(ordered.filter((p) => !taken.has(p.name) && taken.add(p.name)));
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  const parameters: OpenApiToolParameter[] = ordered.map((p) => {
    const arg = plain.has(p) ? p.name : claim(taken, `${p.in}_${p.name}`, Infinity);
    properties[arg] = property(toJsonSchema(p.schema), p.description, p.deprecated, p.example);
    if (p.required) required.push(arg);
    return {
      name: p.name,
      in: p.in,
      required: p.required,
      arg,
      ...(p.style !== undefined ? { style: p.style } : {}),
      ...(p.explode !== undefined ? { explode: p.explode } : {}),
      ...(p.mediaType !== undefined ? { mediaType: p.mediaType } : {}),
    };
  });

  let body: OpenApiOperationTool['body'];
  if (op.requestBody) {
    const mediaTypes = Object.keys(op.requestBody.content);
    const mediaType =
      mediaTypes.find((m) => m.split(';')[0].trim().toLowerCase() === 'application/json') ??
      mediaTypes.find((m) => bodyEncoding(m) === 'json') ??
      mediaTypes.find((m) => bodyEncoding(m) === 'form');
    if (mediaType !== undefined) {
      let arg = 'body';
      while (taken.has(arg)) arg += '_';
      taken.add(arg);
      body = { arg, mediaType, required: op.requestBody.required };
      properties[arg] = property(
        toJsonSchema(op.requestBody.content[mediaType].schema ?? {}, { request: true }),
        op.requestBody.description,
      );
      if (body.required) required.push(arg);
    } else if (op.requestBody.required) {
      return `request body media type ${mediaTypes.join(', ') || '(none)'} is not supported (application/json, +json and application/x-www-form-urlencoded are)`;
    }
  }

  const inputSchema: OpenApiOperationTool['inputSchema'] = {
    type: 'object',
    properties,
    ...(required.length ? { required } : {}),
    additionalProperties: false,
  };
  if (!metaValidator.validateSchema(inputSchema)) {
    return `its input schema is not valid JSON Schema: ${metaValidator.errorsText(metaValidator.errors)}`;
  }
  const summary = op.summary?.trim();
  return {
    operationId,
    name,
    ...(summary ? { title: summary } : {}),
    description: describeOperation(op),
    inputSchema,
    method: op.method,
    path: op.path,
    parameters,
    ...(body ? { body } : {}),
    annotations: annotations(op.method),
    tags: [...op.tags],
  };
}

function property(
  schema: Record<string, unknown> | boolean,
  description?: string,
  deprecated?: boolean,
  example?: unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> =
    typeof schema === 'boolean' ? (schema ? {} : { not: {} }) : schema;
  if (description?.trim()) out.description = description.trim();
  if (deprecated) out.deprecated = true;
  if (example !== undefined && out.examples === undefined) out.examples = [example];
  return out;
}

function describeOperation(op: OpenApiOperation): string {
  const max = OPENAPI_LIMITS.maxDescriptionLength;
  const tail = `${op.method} ${op.path}`;
  const head = [op.deprecated ? 'Deprecated.' : '', op.summary?.trim(), op.description?.trim()]
    .filter((s) => !!s)
    .join('\n\n');
  if (!head) return tail.slice(0, max);
  const room = max - tail.length - 2;
  if (room < 1) return tail.slice(0, max);
  const text = head.length > room ? `${head.slice(0, room - 1).trimEnd()}…` : head;
  return `${text}\n\n${tail}`;
}

function annotations(method: HttpMethod): OpenApiOperationTool['annotations'] {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'TRACE':
      return { readOnlyHint: true, openWorldHint: true };
    case 'PUT':
    case 'DELETE':
      return {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: true,
        openWorldHint: true,
      };
    case 'PATCH':
      return {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: true,
      };
    case 'POST':
      // May create or may overwrite: destructiveHint stays unset (MCP then assumes it may destroy).
      return { readOnlyHint: false, idempotentHint: false, openWorldHint: true };
  }
}
