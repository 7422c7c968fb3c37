import { z } from 'zod';

type Schema = Record<string, unknown>;
const registry = new Map<string, z.ZodType>();

/** Registers a zod schema as an OpenAPI component and returns a `$ref` to it. */
export function schemaRef(name: string, schema: z.ZodType): { $ref: string } {
  const existing = registry.get(name);
  if (existing && existing !== schema) throw new Error(`OpenAPI schema "${name}" registered twice`);
  registry.set(name, schema);
  return { $ref: `#/components/schemas/${name}` };
}

export function openApiComponents(): Record<string, Schema> {
  return Object.fromEntries(
    [...registry].map(([name, schema]) => {
      const json = z.toJSONSchema(schema, {
        target: 'openapi-3.0',
        io: 'input',
        unrepresentable: 'any',
      }) as Schema;
      delete json.$schema;
      return [name, json];
    }),
  );
}
