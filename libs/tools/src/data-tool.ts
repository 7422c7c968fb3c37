import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { ToolArgumentLimits } from '@app/config';
import type { ToolAnnotations } from './decorators';
import type { ToolContext } from './tool-context';
import type { ParsedArguments, ToolDefinition, ToolListEntry, ToolOrigin } from './tool-registry';

/**
 * MCP's rule for tool names (2025-11-25 and later): 1 to 128 characters from A–Z, a–z, 0–9, `_`,
 * `-` and `.`. Built-in tools follow it by construction; names made from data are checked.
 */
export const TOOL_NAME_RULE = /^[A-Za-z0-9_.-]{1,128}$/;

export type JsonObjectSchema = { readonly type: 'object'; readonly [key: string]: unknown };

/** A tool given as data (a tenant's source), with JSON Schemas instead of zod. */
export interface DataToolSpec {
  name: string;
  title?: string;
  description: string;
  inputSchema: JsonObjectSchema;
  outputSchema?: JsonObjectSchema;
  annotations?: ToolAnnotations;
  requiredScopes: readonly string[];
  origin: ToolOrigin;
  handler: (args: unknown, ctx: ToolContext) => Promise<unknown>;
}

const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
addFormats(ajv);

/**
 * Keywords whose checks a tenant's schema could make arbitrarily slow for every tenant (a
 * backtracking `pattern` runs on the shared event loop), or that would make the validator fetch
 * or look up other schemas. They are left to the upstream, which checks its own input anyway.
 */
const UNCHECKED = new Set(['pattern', 'patternProperties', '$schema', '$id', '$dynamicRef']);

function checkable(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(checkable);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (UNCHECKED.has(k)) {
      if (k === 'patternProperties') out.additionalProperties ??= true;
      continue;
    }
    // A `$ref` outside the schema itself cannot be resolved (and must not be fetched).
    if (k === '$ref' && typeof v === 'string' && !v.startsWith('#')) continue;
    out[k] =
      k === 'properties' || k === '$defs' || k === 'definitions' ? mapValues(v) : checkable(v);
  }
  return out;
}

function mapValues(v: unknown): unknown {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return checkable(v);
  return Object.fromEntries(Object.entries(v).map(([k, s]) => [k, checkable(s)]));
}

function describe(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'do not match the tool’s input schema';
  const at = e.instancePath ? e.instancePath.slice(1).replaceAll('/', '.') : '';
  const extra =
    e.keyword === 'additionalProperties'
      ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})`
      : '';
  return `${at ? `${at}: ` : ''}${e.message ?? 'invalid'}${extra}`;
}

/**
 * A tool defined from JSON Schema: its arguments are checked by Ajv (draft 2020-12, formats on),
 * compiled on the first call rather than when a catalog loads, and a schema Ajv cannot compile
 * refuses calls with a message rather than failing the catalog.
 */
export function defineDataTool(spec: DataToolSpec, limits: ToolArgumentLimits): ToolDefinition {
  let validate: ValidateFunction | undefined;
  let broken: string | undefined;
  const parse = (args: unknown): ParsedArguments => {
    if (!validate && !broken) {
      const schema = checkable(spec.inputSchema) as object;
      try {
        validate = ajv.compile(schema);
      } catch (err) {
        broken = `the input schema of ${spec.name} cannot be used: ${(err as Error).message}`;
      } finally {
        // Ajv keeps every compiled schema; catalogs are reloaded, so the shared instance would grow.
        ajv.removeSchema(schema);
      }
    }
    if (!validate) return { success: false, problem: broken ?? 'no validator' };
    return validate(args)
      ? { success: true, data: args }
      : { success: false, problem: describe(validate.errors) };
  };
  const listEntry: ToolListEntry = {
    name: spec.name,
    ...(spec.title ? { title: spec.title } : {}),
    description: spec.description,
    inputSchema: spec.inputSchema,
    ...(spec.outputSchema ? { outputSchema: spec.outputSchema } : {}),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  return Object.freeze({
    kind: 'tool' as const,
    name: spec.name,
    title: spec.title,
    description: spec.description,
    requiredScopes: Object.freeze([...new Set(spec.requiredScopes)].sort()),
    parse,
    structured: spec.outputSchema !== undefined,
    origin: spec.origin,
    limits,
    listEntry: Object.freeze(listEntry),
    handler: spec.handler,
  });
}
