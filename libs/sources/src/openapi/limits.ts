/**
 * Caps on what a tenant's document may cost us. The document is parsed, validated and expanded
 * on the shared event loop, so each stage is bounded before it runs.
 */
export const OPENAPI_LIMITS = Object.freeze({
  /** Characters of JSON or YAML text (or of the JSON form of an object). */
  maxDocumentChars: 16 * 1024 * 1024,
  /** JSON values in the parsed document. */
  maxDocumentNodes: 2_000_000,
  /** Nesting of the parsed document (objects and arrays). */
  maxDocumentDepth: 128,
  maxOperations: 2000,
  /** JSON values of one operation's parameter and body schemas once `$ref`s are expanded. */
  maxOperationSchemaNodes: 10_000,
  /** The same, summed over all operations. */
  maxExpandedNodes: 500_000,
  /** `$ref`s followed inside one schema before the expansion is cut. */
  maxRefDepth: 32,
  /** JSON nesting of one expanded schema before it is cut (tool arguments nest 64 deep at most). */
  maxSchemaDepth: 128,
  maxToolNameLength: 64,
  maxDescriptionLength: 1024,
  /** Characters of an upstream error body quoted in a tool result. */
  maxErrorExcerpt: 2000,
});
