import { isRecord } from './document';

/** Keywords kept, all understood by JSON Schema 2020-12; anything else (OpenAPI-only, `x-`) goes. */
const ANNOTATION_KEYWORDS = new Set([
  'title',
  'description',
  'deprecated',
  'readOnly',
  'writeOnly',
  'format',
  'contentEncoding',
  'contentMediaType',
  '$comment',
]);
const NUMBER_KEYWORDS = new Set([
  'multipleOf',
  'maximum',
  'minimum',
  'exclusiveMaximum',
  'exclusiveMinimum',
]);
const COUNT_KEYWORDS = new Set([
  'maxLength',
  'minLength',
  'maxItems',
  'minItems',
  'maxContains',
  'minContains',
  'maxProperties',
  'minProperties',
]);
const DATA_KEYWORDS = new Set(['default', 'const', 'enum', 'examples']);
const SUBSCHEMA_KEYWORDS = new Set([
  'items',
  'additionalProperties',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contentSchema',
]);
const SUBSCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
const SUBSCHEMA_MAPS = new Set(['properties', 'patternProperties', 'dependentSchemas']);
const TYPES = new Set(['null', 'boolean', 'object', 'array', 'number', 'string', 'integer']);

export interface JsonSchemaOptions {
  /** A request body: `readOnly` properties are the server's to set, so they are left out. */
  request?: boolean;
}

/**
 * An OpenAPI 3.0 or 3.1 schema (already `$ref`-free) as a JSON Schema 2020-12 that Ajv compiles:
 * `nullable` becomes a type union, boolean `exclusiveMinimum`/`exclusiveMaximum` become numbers,
 * `example` becomes `examples`, a discriminated `oneOf` becomes `anyOf`, and keywords with values of the wrong kind are dropped rather than
 * failing the whole tool.
 */
export function toJsonSchema(
  schema: unknown,
  options: JsonSchemaOptions = {},
): Record<string, unknown> | boolean {
  if (typeof schema === 'boolean') return schema;
  if (!isRecord(schema)) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (ANNOTATION_KEYWORDS.has(k)) {
      if (
        k === 'deprecated' || k === 'readOnly' || k === 'writeOnly'
          ? typeof v === 'boolean'
          : typeof v === 'string'
      )
        out[k] = v;
    } else if (NUMBER_KEYWORDS.has(k)) {
      if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    } else if (COUNT_KEYWORDS.has(k)) {
      if (Number.isInteger(v) && (v as number) >= 0) out[k] = v;
    } else if (k === 'uniqueItems') {
      if (typeof v === 'boolean') out[k] = v;
    } else if (k === 'pattern') {
      if (typeof v === 'string' && isUnicodeRegExp(v)) out[k] = v;
    } else if (k === 'type') {
      const types = (Array.isArray(v) ? v : [v]).filter(
        (t): t is string => typeof t === 'string' && TYPES.has(t),
      );
      if (types.length) out[k] = Array.isArray(v) ? [...new Set(types)] : types[0];
    } else if (k === 'required' || k === 'dependentRequired') {
      if (k === 'required' && Array.isArray(v))
        out[k] = [...new Set(v.filter((n) => typeof n === 'string'))];
      if (k === 'dependentRequired' && isRecord(v)) out[k] = v;
    } else if (DATA_KEYWORDS.has(k)) {
      if (k === 'enum' || k === 'examples' ? Array.isArray(v) : true) out[k] = v;
    } else if (k === 'example') {
      if (schema.examples === undefined) out.examples = [v];
    } else if (SUBSCHEMA_KEYWORDS.has(k)) {
      if (k === 'items' && Array.isArray(v))
        out.prefixItems = v.map((s) => toJsonSchema(s, options));
      else out[k] = toJsonSchema(v, options);
    } else if (SUBSCHEMA_LISTS.has(k)) {
      // With a discriminator, oneOf branches usually overlap (they differ only by the
      // discriminator's value, if at all): as JSON Schema, oneOf would refuse valid input.
      const discriminated = isRecord(schema.discriminator) && schema.anyOf === undefined;
      const key = k === 'oneOf' && discriminated ? 'anyOf' : k;
      if (Array.isArray(v) && v.length) out[key] = v.map((s) => toJsonSchema(s, options));
    } else if (SUBSCHEMA_MAPS.has(k)) {
      if (isRecord(v))
        out[k] = Object.fromEntries(
          Object.entries(v).map(([n, s]) => [n, toJsonSchema(s, options)]),
        );
    }
  }
  exclusiveBound(schema, out, 'exclusiveMinimum', 'minimum');
  exclusiveBound(schema, out, 'exclusiveMaximum', 'maximum');
  if (options.request) dropReadOnly(out);
  return schema.nullable === true ? nullable(out) : out;
}

function isUnicodeRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false;
  }
}

/** OpenAPI 3.0: `exclusiveMinimum: true` qualifies `minimum`. */
function exclusiveBound(
  schema: Record<string, unknown>,
  out: Record<string, unknown>,
  exclusive: string,
  bound: string,
): void {
  if (typeof schema[exclusive] !== 'boolean') return;
  if (schema[exclusive] === true && typeof out[bound] === 'number') {
    out[exclusive] = out[bound];
    delete out[bound];
  }
}

function dropReadOnly(out: Record<string, unknown>): void {
  if (!isRecord(out.properties)) return;
  const readOnly = Object.entries(out.properties)
    .filter(([, s]) => isRecord(s) && s.readOnly === true)
    .map(([n]) => n);
  if (!readOnly.length) return;
  out.properties = Object.fromEntries(
    Object.entries(out.properties).filter(([n]) => !readOnly.includes(n)),
  );
  if (Array.isArray(out.required)) {
    const required = (out.required as string[]).filter((n) => !readOnly.includes(n));
    if (required.length) out.required = required;
    else delete out.required;
  }
}

function nullable(out: Record<string, unknown>): Record<string, unknown> {
  const { type } = out;
  if (Array.isArray(out.enum) && !out.enum.includes(null))
    out.enum = [...(out.enum as unknown[]), null];
  if (typeof type === 'string' || Array.isArray(type)) {
    const types = Array.isArray(type) ? (type as string[]) : [type];
    if (!types.includes('null')) out.type = [...types, 'null'];
    return out;
  }
  if (out.allOf || out.anyOf || out.oneOf) {
    const { title, description, ...rest } = out;
    return {
      ...(title !== undefined ? { title } : {}),
      ...(description !== undefined ? { description } : {}),
      anyOf: [rest, { type: 'null' }],
    };
  }
  return out;
}
