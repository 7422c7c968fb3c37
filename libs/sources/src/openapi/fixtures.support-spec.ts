// Test documents for the openapi specs. The name ends in `spec.ts` so the app build leaves it out,
// but not in `.spec.ts`, so jest does not run it as a suite.
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/** A parsed document or schema read loosely in tests; the assertions check its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

const ok = { 200: { description: 'OK' } };

/** A 3.1 petstore: components with $ref everywhere, security, header and form parameters. */
export function petstore31(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'Petstore', version: '1.0.0' },
    servers: [
      { url: 'https://{region}.pets.example.com/v1', variables: { region: { default: 'eu' } } },
    ],
    tags: [{ name: 'pets' }, { name: 'store' }],
    security: [{ apiKey: [] }],
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
      parameters: {
        Limit: {
          name: 'limit',
          in: 'query',
          description: 'How many items to return',
          schema: { type: 'integer', minimum: 1, maximum: 100, format: 'int32' },
        },
        PetId: {
          name: 'petId',
          in: 'path',
          required: true,
          description: 'The pet',
          schema: { type: 'string' },
        },
      },
      requestBodies: {
        NewPet: {
          required: true,
          description: 'The pet to add',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/NewPet' } } },
        },
      },
      schemas: {
        Pet: {
          type: 'object',
          required: ['id', 'name'],
          properties: {
            id: { type: 'integer', format: 'int64', readOnly: true },
            name: { type: 'string', example: 'Rex', 'x-internal': true },
            tag: { $ref: '#/components/schemas/Tag', description: 'A label' },
            owner: { $ref: '#/components/schemas/Owner', minProperties: 1 },
          },
        },
        NewPet: { allOf: [{ $ref: '#/components/schemas/Pet' }], xml: { name: 'pet' } },
        Tag: { type: ['string', 'null'], maxLength: 20 },
        Owner: { type: 'object', properties: { email: { type: 'string', format: 'email' } } },
      },
    },
    paths: {
      '/pets': {
        get: {
          operationId: 'listPets',
          summary: 'List pets',
          description: 'All the pets, a page at a time.',
          tags: ['pets'],
          parameters: [
            { $ref: '#/components/parameters/Limit' },
            { name: 'tags', in: 'query', schema: { type: 'array', items: { type: 'string' } } },
            {
              name: 'fields',
              in: 'query',
              explode: false,
              schema: { type: 'array', items: { type: 'string' } },
            },
            { name: 'X-API-Key', in: 'header', schema: { type: 'string' } },
            { name: 'Authorization', in: 'header', schema: { type: 'string' } },
            { name: 'Transfer-Encoding', in: 'header', schema: { type: 'string' } },
            {
              name: 'X-Request-Id',
              in: 'header',
              description: 'Correlation id',
              schema: { type: 'string' },
            },
          ],
          responses: {
            200: {
              description: 'OK',
              content: {
                'application/json': {
                  schema: { type: 'array', items: { $ref: '#/components/schemas/Pet' } },
                },
              },
            },
          },
        },
        post: {
          operationId: 'createPet',
          summary: 'Create a pet',
          description: 'Adds a pet to the store.',
          tags: ['pets'],
          requestBody: { $ref: '#/components/requestBodies/NewPet' },
          responses: { 201: { description: 'Created' } },
        },
      },
      '/pets/{petId}': {
        parameters: [{ $ref: '#/components/parameters/PetId' }],
        get: { operationId: 'getPet', summary: 'Get a pet', tags: ['pets'], responses: ok },
        put: {
          operationId: 'replacePet',
          tags: ['pets'],
          requestBody: {
            content: { 'application/json': { schema: { $ref: '#/components/schemas/NewPet' } } },
          },
          responses: ok,
        },
        delete: { operationId: 'deletePet', tags: ['pets'], deprecated: true, responses: ok },
        patch: {
          operationId: 'patchPet',
          tags: ['pets'],
          requestBody: {
            required: true,
            content: {
              'application/merge-patch+json': { schema: { $ref: '#/components/schemas/Pet' } },
            },
          },
          responses: ok,
        },
      },
      '/pets/{petId}/photo': {
        post: {
          operationId: 'uploadPhoto',
          tags: ['pets'],
          parameters: [{ $ref: '#/components/parameters/PetId' }],
          requestBody: {
            required: true,
            content: { 'multipart/form-data': { schema: { type: 'object' } } },
          },
          responses: ok,
        },
      },
      '/stores/{storeId}/inventory': {
        get: {
          tags: ['store'],
          parameters: [
            { name: 'storeId', in: 'path', required: true, schema: { type: 'integer' } },
          ],
          responses: ok,
        },
      },
      '/login': {
        post: {
          operationId: 'login',
          tags: ['auth'],
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': {
                schema: {
                  type: 'object',
                  required: ['user'],
                  properties: {
                    user: { type: 'string' },
                    scopes: { type: 'array', items: { type: 'string' } },
                  },
                },
              },
            },
          },
          responses: ok,
        },
      },
    },
  };
}

/** A 3.0 document: nullable, boolean exclusiveMinimum, example, xml, discriminator. */
export function nullable30(): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: { title: 'Items', version: '2' },
    paths: {
      '/items': {
        post: {
          operationId: 'createItem',
          parameters: [
            {
              name: 'dryRun',
              in: 'query',
              example: true,
              schema: { type: 'boolean', nullable: true },
            },
            {
              name: 'filter',
              in: 'query',
              content: {
                'application/json': {
                  schema: { type: 'object', properties: { q: { type: 'string' } } },
                },
              },
            },
          ],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Item' } } },
          },
          responses: ok,
        },
      },
    },
    components: {
      schemas: {
        Item: {
          type: 'object',
          required: ['name'],
          externalDocs: { url: 'https://docs.example.com/item' },
          properties: {
            name: { type: 'string', example: 'widget', xml: { name: 'n' } },
            price: { type: 'number', minimum: 0, exclusiveMinimum: true, nullable: true },
            kind: { type: 'string', enum: ['a', 'b'], nullable: true },
            parent: { allOf: [{ $ref: '#/components/schemas/Ref' }], nullable: true },
            pet: {
              oneOf: [{ $ref: '#/components/schemas/Cat' }, { $ref: '#/components/schemas/Dog' }],
              discriminator: { propertyName: 'petType' },
            },
          },
        },
        Ref: { type: 'object', properties: { id: { type: 'string' } } },
        Cat: {
          type: 'object',
          required: ['petType'],
          properties: { petType: { type: 'string' }, meows: { type: 'boolean' } },
        },
        Dog: {
          type: 'object',
          required: ['petType'],
          properties: { petType: { type: 'string' }, barks: { type: 'boolean' } },
        },
      },
    },
  };
}

export const YAML_DOCUMENT = `
openapi: 3.0.3
info:
  title: Notes
  version: "1.0"
paths:
  /notes/{noteId}:
    get:
      operationId: getNote
      summary: Read a note
      parameters:
        - name: noteId
          in: path
          required: true
          schema: &id
            type: string
            minLength: 1
      responses:
        "200":
          description: OK
    delete:
      operationId: deleteNote
      parameters:
        - name: noteId
          in: path
          required: true
          schema: *id
      responses:
        "204":
          description: Deleted
`;

/** Recursive schemas: a tree, and two schemas referring to each other. */
export function circular31(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: { title: 'Trees', version: '1' },
    paths: {
      '/trees': {
        post: {
          operationId: 'plantTree',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Node' } } },
          },
          responses: ok,
        },
      },
      '/pairs': {
        post: {
          operationId: 'makePair',
          requestBody: {
            content: { 'application/json': { schema: { $ref: '#/components/schemas/A' } } },
          },
          responses: ok,
        },
      },
    },
    components: {
      schemas: {
        Node: {
          type: 'object',
          required: ['name'],
          properties: {
            name: { type: 'string' },
            children: { type: 'array', items: { $ref: '#/components/schemas/Node' } },
          },
        },
        A: { type: 'object', properties: { b: { $ref: '#/components/schemas/B' } } },
        B: { type: 'object', properties: { a: { $ref: '#/components/schemas/A' } } },
      },
    },
  };
}

/** A minimal valid 3.1 document whose one request body schema is `schema`. */
export function withBodySchema(schema: unknown, components: Record<string, unknown> = {}) {
  return {
    openapi: '3.1.0',
    info: { title: 'One', version: '1' },
    paths: {
      '/things': {
        post: {
          operationId: 'createThing',
          requestBody: { content: { 'application/json': { schema } } },
          responses: ok,
        },
      },
    },
    components: { schemas: components },
  };
}

/** Names that collide: across parameter locations, with `body`, and after sanitizing. */
export function collisions31(): Record<string, unknown> {
  const long = 'x'.repeat(70);
  return {
    openapi: '3.1.0',
    info: { title: 'Clashes', version: '1' },
    paths: {
      '/things/{id}': {
        get: {
          operationId: 'get thing/by id',
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'id', in: 'query', schema: { type: 'integer' } },
            { name: 'id', in: 'header', schema: { type: 'string' } },
            { name: 'query_id', in: 'query', schema: { type: 'string' } },
            { name: 'body', in: 'query', schema: { type: 'string' } },
          ],
          requestBody: {
            content: { 'application/json': { schema: { type: 'object' } } },
          },
          responses: ok,
        },
      },
      '/things': {
        get: { operationId: 'get_thing_by_id', responses: ok },
        post: { operationId: `${long}!`, responses: ok },
        put: { operationId: `${long}?`, responses: ok },
      },
      '/get/thing': { get: { responses: ok } },
      '/get_thing': { get: { responses: ok } },
      '/trace': { trace: { operationId: 'traceIt', responses: ok } },
    },
  };
}

/** `count` operations, one path each. */
export function manyOperations(count: number): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (let i = 0; i < count; i++)
    paths[`/r${i}`] = { get: { operationId: `op${i}`, responses: ok } };
  return { openapi: '3.1.0', info: { title: 'Many', version: '1' }, paths };
}

/** The validator a platform would build for tool inputs (Ajv 2020-12, formats, strict off). */
export function compileInput(schema: unknown) {
  const ajv = new Ajv2020({ strict: false, logger: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(schema as object);
}
