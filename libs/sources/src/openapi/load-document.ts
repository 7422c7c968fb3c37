import validateSchema from '@apidevtools/swagger-parser/lib/validators/schema';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import YAML from 'yaml';
import { checkDocumentShape, copyData, ExpansionBudgetExceeded, RefResolver } from './dereference';
import {
  describePointer,
  HTTP_METHODS,
  isRecord,
  PARAMETER_LOCATIONS,
  type OpenApiDocument,
  type OpenApiOperation,
  type OpenApiParameter,
  type OpenApiRequestBody,
  type ParameterLocation,
} from './document';
import { OpenApiDocumentError } from './errors';
import { OPENAPI_LIMITS } from './limits';
import { bodyEncoding } from './media-types';

/**
 * Parses (an object, JSON text or YAML text), validates against the OpenAPI 3.0 / 3.1 schema and
 * expands internal `$ref`s of what tools need. External references are refused before anything
 * could follow them: the document is a tenant's.
 */
export async function loadOpenApiDocument(input: unknown): Promise<OpenApiDocument> {
  // Each stage may take a while on a large document: other requests get a turn between them.
  const raw = parseInput(input);
  const dialect = checkVersion(raw);
  checkDocumentShape(raw);
  const resolver = new RefResolver(raw, dialect);
  checkOperationCount(raw, resolver);
  await yieldToEventLoop();
  validate(raw);
  await yieldToEventLoop();
  return buildModel(raw, dialect, resolver);
}

function parseInput(input: unknown): unknown {
  if (input instanceof Uint8Array) {
    try {
      input = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      throw new OpenApiDocumentError('document: not UTF-8 text');
    }
  }
  if (typeof input === 'string') return parseText(input);
  if (isRecord(input)) {
    let text: string;
    try {
      text = JSON.stringify(input);
    } catch (err) {
      throw new OpenApiDocumentError(
        `document: not representable as JSON (${(err as Error).message})`,
      );
    }
    checkLength(text);
    return JSON.parse(text) as unknown;
  }
  throw new OpenApiDocumentError(
    'not an OpenAPI 3.x document: expected an object, JSON text or YAML text',
  );
}

function checkLength(text: string): void {
  if (text.length > OPENAPI_LIMITS.maxDocumentChars) {
    throw new OpenApiDocumentError(
      `document: ${text.length} characters, more than the ${OPENAPI_LIMITS.maxDocumentChars} allowed`,
    );
  }
}

function parseText(input: string): unknown {
  checkLength(input);
  const text = input.replace(/^\uFEFF/, '').trim();
  if (!text) throw new OpenApiDocumentError('document: empty');
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new OpenApiDocumentError(`document: not valid JSON: ${(err as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text, {
      maxAliasCount: 100,
      merge: false,
      uniqueKeys: true,
      schema: 'core',
    });
  } catch (err) {
    throw new OpenApiDocumentError(`document: not valid YAML: ${(err as Error).message}`);
  }
  // Aliases are shared objects: the JSON copy makes the tree plain, and its length is the real size.
  const json = JSON.stringify(parsed) ?? 'null';
  checkLength(json);
  return JSON.parse(json) as unknown;
}

function checkVersion(raw: unknown): '3.0' | '3.1' {
  if (!isRecord(raw))
    throw new OpenApiDocumentError('not an OpenAPI 3.x document: it is not a JSON object');
  if ('swagger' in raw) {
    throw new OpenApiDocumentError(
      'not an OpenAPI 3.x document: Swagger 2.0 is not supported; convert it to OpenAPI 3.x first (for example with swagger2openapi)',
    );
  }
  const version = raw.openapi;
  if (version === undefined) {
    throw new OpenApiDocumentError(
      'not an OpenAPI 3.x document: it has no "openapi" version field',
    );
  }
  if (typeof version !== 'string') {
    throw new OpenApiDocumentError(
      `document: openapi: the version must be a string such as "3.1.0", not ${JSON.stringify(version)}`,
    );
  }
  const match = /^3\.([01])\.\d+$/.exec(version);
  if (!match) {
    throw new OpenApiDocumentError(
      `document: openapi: version "${version}" is not supported (3.0.x and 3.1.x are)`,
    );
  }
  return match[1] === '0' ? '3.0' : '3.1';
}

function pathItems(
  raw: Record<string, unknown>,
  resolver: RefResolver,
): [string, Record<string, unknown>][] {
  if (!isRecord(raw.paths)) return [];
  const out: [string, Record<string, unknown>][] = [];
  for (const [path, item] of Object.entries(raw.paths)) {
    const resolved = resolver.object(item);
    if (resolved) out.push([path, resolved]);
  }
  return out;
}

function checkOperationCount(raw: unknown, resolver: RefResolver): void {
  let count = 0;
  for (const [, item] of pathItems(raw as Record<string, unknown>, resolver)) {
    count += HTTP_METHODS.filter((m) => isRecord(item[m.toLowerCase()])).length;
  }
  if (count > OPENAPI_LIMITS.maxOperations) {
    throw new OpenApiDocumentError(
      `document: paths: ${count} operations, more than the ${OPENAPI_LIMITS.maxOperations} allowed; split the document`,
    );
  }
}

/**
 * swagger-parser's schema validator, on its own rather than through `SwaggerParser.validate`: the
 * package entry loads json-schema-ref-parser (ESM only, beyond Jest's reach), and its resolver is
 * not wanted anyway. References were checked above and are expanded here, by code that has no
 * file or network access, so nothing in the document can make us read anything.
 */
function validate(raw: unknown): void {
  try {
    validateSchema(raw as object);
  } catch (err) {
    throw new OpenApiDocumentError(validationMessage(err));
  }
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params?: Record<string, unknown>;
}

const COMBINATORS = new Set(['oneOf', 'anyOf', 'if', 'not', 'then', 'else', 'false schema']);

function validationMessage(err: unknown): string {
  const details = (err as { details?: unknown }).details;
  if (!Array.isArray(details) || details.length === 0) {
    return `document: ${String((err as Error).message ?? err).replace(/^Swagger schema validation failed\.\s*/, '')}`;
  }
  const byPath = new Map<string, { missing: string[]; unexpected: string[]; other: string[] }>();
  const errors = details as AjvError[];
  const informative = errors.filter((e) => !COMBINATORS.has(e.keyword));
  for (const e of informative.length ? informative : errors) {
    const tokens = e.instancePath
      .split('/')
      .slice(1)
      .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
    const at = describePointer(tokens);
    const entry = byPath.get(at) ?? { missing: [], unexpected: [], other: [] };
    byPath.set(at, entry);
    const p = e.params ?? {};
    const add = (list: string[], v: string): void => void (list.includes(v) || list.push(v));
    if (e.keyword === 'required' && typeof p.missingProperty === 'string')
      add(entry.missing, p.missingProperty);
    else if (typeof p.additionalProperty === 'string') add(entry.unexpected, p.additionalProperty);
    else if (typeof p.unevaluatedProperty === 'string')
      add(entry.unexpected, p.unevaluatedProperty);
    else add(entry.other, e.message ?? e.keyword);
  }
  const lines = [...byPath].map(([at, { missing, unexpected, other }]) => {
    const parts = [
      ...(unexpected.length ? [`unexpected property ${unexpected.join(', ')}`] : []),
      ...(missing.length ? [`missing property ${missing.join(' or ')}`] : []),
      ...other,
    ];
    return `${at}: ${parts.join('; ')}`;
  });
  const shown = lines.slice(0, 5).join(' | ');
  return `document: ${shown}${lines.length > 5 ? ` | (${lines.length - 5} more)` : ''}`;
}

function buildModel(raw: unknown, dialect: '3.0' | '3.1', resolver: RefResolver): OpenApiDocument {
  const doc = raw as Record<string, unknown>;
  const info = doc.info as Record<string, unknown>;
  const components = isRecord(doc.components) ? doc.components : {};
  const securitySchemes: Record<string, Record<string, unknown>> = {};
  if (isRecord(components.securitySchemes)) {
    for (const [name, scheme] of Object.entries(components.securitySchemes)) {
      const resolved = resolver.object(scheme);
      if (resolved)
        securitySchemes[name] = copyData(resolved, { left: Infinity }) as Record<string, unknown>;
    }
  }
  const operations: OpenApiOperation[] = [];
  const seenIds = new Map<string, string>();
  const total = { left: OPENAPI_LIMITS.maxExpandedNodes };
  for (const [path, item] of pathItems(doc, resolver)) {
    for (const method of HTTP_METHODS) {
      const op = item[method.toLowerCase()];
      if (!isRecord(op)) continue;
      const at = describePointer(['paths', path, method.toLowerCase()]);
      const operationId = typeof op.operationId === 'string' ? op.operationId : undefined;
      if (operationId !== undefined) {
        const first = seenIds.get(operationId);
        if (first) {
          throw new OpenApiDocumentError(
            `document: operationId "${operationId}" is used by both ${first} and ${at}; operationIds must be unique`,
          );
        }
        seenIds.set(operationId, at);
      }
      operations.push(buildOperation(op, item, method, path, operationId, resolver, total));
    }
  }
  return {
    openapi: doc.openapi as string,
    dialect,
    info: {
      title: String(info.title),
      version: String(info.version),
      ...(typeof info.description === 'string' ? { description: info.description } : {}),
    },
    servers: servers(doc.servers),
    securitySchemes,
    ...(Array.isArray(doc.security)
      ? { security: copyData(doc.security, { left: Infinity }) as Record<string, string[]>[] }
      : {}),
    operations,
  };
}

function buildOperation(
  op: Record<string, unknown>,
  item: Record<string, unknown>,
  method: OpenApiOperation['method'],
  path: string,
  operationId: string | undefined,
  resolver: RefResolver,
  total: { left: number },
): OpenApiOperation {
  const base: OpenApiOperation = {
    method,
    path,
    ...(operationId !== undefined ? { operationId } : {}),
    ...(typeof op.summary === 'string' ? { summary: op.summary } : {}),
    ...(typeof op.description === 'string' ? { description: op.description } : {}),
    tags: Array.isArray(op.tags) ? op.tags.filter((t): t is string => typeof t === 'string') : [],
    deprecated: op.deprecated === true,
    parameters: [],
    ...(Array.isArray(op.security)
      ? { security: copyData(op.security, { left: Infinity }) as Record<string, string[]>[] }
      : {}),
  };
  const budget = { left: Math.min(OPENAPI_LIMITS.maxOperationSchemaNodes, total.left) };
  const start = budget.left;
  try {
    const parameters = mergeParameters(item.parameters, op.parameters, resolver, budget);
    const requestBody = buildRequestBody(op.requestBody, resolver, budget);
    total.left -= start - budget.left;
    return { ...base, parameters, ...(requestBody ? { requestBody } : {}) };
  } catch (err) {
    if (!(err instanceof ExpansionBudgetExceeded)) throw err;
    if (start < OPENAPI_LIMITS.maxOperationSchemaNodes) {
      throw new OpenApiDocumentError(
        `document: paths: the parameter and request body schemas, $refs expanded, exceed ${OPENAPI_LIMITS.maxExpandedNodes} JSON values in all; split the document`,
      );
    }
    total.left -= start;
    return {
      ...base,
      problem: `its parameter and request body schemas, $refs expanded, exceed ${OPENAPI_LIMITS.maxOperationSchemaNodes} JSON values`,
    };
  }
}

function mergeParameters(
  pathLevel: unknown,
  opLevel: unknown,
  resolver: RefResolver,
  budget: { left: number },
): OpenApiParameter[] {
  const read = (list: unknown): Record<string, unknown>[] =>
    Array.isArray(list) ? list.map((p) => resolver.object(p)).filter((p) => p !== undefined) : [];
  const own = read(opLevel);
  const key = (p: Record<string, unknown>): string => `${String(p.in)}\u0000${String(p.name)}`;
  const overridden = new Set(own.map(key));
  const merged = [...read(pathLevel).filter((p) => !overridden.has(key(p))), ...own];
  const out: OpenApiParameter[] = [];
  for (const p of merged) {
    if (typeof p.name !== 'string' || !PARAMETER_LOCATIONS.includes(p.in as ParameterLocation))
      continue;
    const location = p.in as ParameterLocation;
    let schema: unknown = {};
    let mediaType: string | undefined;
    if (p.schema !== undefined) schema = resolver.schema(p.schema, budget);
    else if (isRecord(p.content)) {
      const [entry] = Object.entries(p.content);
      if (entry) {
        mediaType = entry[0];
        if (isRecord(entry[1]) && entry[1].schema !== undefined)
          schema = resolver.schema(entry[1].schema, budget);
      }
    }
    out.push({
      name: p.name,
      in: location,
      required: location === 'path' || p.required === true,
      ...(typeof p.description === 'string' ? { description: p.description } : {}),
      ...(p.deprecated === true ? { deprecated: true } : {}),
      ...(typeof p.style === 'string' ? { style: p.style } : {}),
      ...(typeof p.explode === 'boolean' ? { explode: p.explode } : {}),
      schema,
      ...(mediaType !== undefined ? { mediaType } : {}),
      ...(p.example !== undefined ? { example: copyData(p.example, budget) } : {}),
    });
  }
  return out;
}

function buildRequestBody(
  raw: unknown,
  resolver: RefResolver,
  budget: { left: number },
): OpenApiRequestBody | undefined {
  const body = resolver.object(raw);
  if (!body || !isRecord(body.content)) return undefined;
  const content: OpenApiRequestBody['content'] = {};
  for (const [mediaType, media] of Object.entries(body.content)) {
    const schema = isRecord(media) ? media.schema : undefined;
    content[mediaType] =
      schema !== undefined && bodyEncoding(mediaType)
        ? { schema: resolver.schema(schema, budget) }
        : {};
  }
  return {
    required: body.required === true,
    ...(typeof body.description === 'string' ? { description: body.description } : {}),
    content,
  };
}

function servers(raw: unknown): OpenApiDocument['servers'] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(isRecord).flatMap((s) => {
    if (typeof s.url !== 'string') return [];
    const variables = isRecord(s.variables) ? s.variables : {};
    const url = s.url.replace(/\{([^}]+)\}/g, (whole, name: string) => {
      const v = variables[name];
      return isRecord(v) && typeof v.default === 'string' ? v.default : whole;
    });
    return [{ url, ...(typeof s.description === 'string' ? { description: s.description } : {}) }];
  });
}
