export const HTTP_METHODS = [
  'GET',
  'PUT',
  'POST',
  'DELETE',
  'OPTIONS',
  'HEAD',
  'PATCH',
  'TRACE',
] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const PARAMETER_LOCATIONS = ['path', 'query', 'header', 'cookie'] as const;
export type ParameterLocation = (typeof PARAMETER_LOCATIONS)[number];

/** A parameter, path-level and operation-level merged, its schema with every `$ref` expanded. */
export interface OpenApiParameter {
  name: string;
  in: ParameterLocation;
  required: boolean;
  description?: string;
  deprecated?: boolean;
  style?: string;
  explode?: boolean;
  /** An OpenAPI schema (3.0 or 3.1 dialect, see OpenApiDocument.dialect), JSON only. */
  schema: unknown;
  /** Set when the parameter is described by `content` rather than `schema`: its one media type. */
  mediaType?: string;
  example?: unknown;
}

export interface OpenApiRequestBody {
  required: boolean;
  description?: string;
  /** Every media type of the document; `schema` is expanded only for the ones tools support. */
  content: Record<string, { schema?: unknown }>;
}

export interface OpenApiOperation {
  method: HttpMethod;
  path: string;
  operationId?: string;
  summary?: string;
  description?: string;
  tags: string[];
  deprecated: boolean;
  parameters: OpenApiParameter[];
  requestBody?: OpenApiRequestBody;
  security?: Record<string, string[]>[];
  /** Why the operation cannot become a tool, found while loading (its schemas are too large). */
  problem?: string;
}

/**
 * A validated document reduced to what tools need. Plain JSON (no cycles, no shared objects), so
 * it can be stored and re-read; responses are not kept.
 */
export interface OpenApiDocument {
  openapi: string;
  dialect: '3.0' | '3.1';
  info: { title: string; version: string; description?: string };
  /** `servers[].url` with each `{variable}` replaced by its default; may be relative. */
  servers: { url: string; description?: string }[];
  securitySchemes: Record<string, Record<string, unknown>>;
  security?: Record<string, string[]>[];
  operations: OpenApiOperation[];
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `paths./pets.get.responses` for the JSON pointer `/paths/~1pets/get/responses`. */
export function describePointer(tokens: readonly (string | number)[]): string {
  return tokens.length ? tokens.join('.') : '(root)';
}
