/**
 * swagger-parser's OpenAPI schema check (the official 2.0 / 3.0 / 3.1 JSON Schemas run by Ajv).
 * Synchronous; throws a SyntaxError whose `details` are Ajv's errors. Reads nothing but its input.
 */
declare module '@apidevtools/swagger-parser/lib/validators/schema' {
  function validateSchema(api: object): void;
  export = validateSchema;
}
