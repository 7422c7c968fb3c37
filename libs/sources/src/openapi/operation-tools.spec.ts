import type { OpenApiDocument } from './document';
import { OpenApiDocumentError } from './errors';
import {
  circular31,
  collisions31,
  compileInput,
  nullable30,
  petstore31,
  withBodySchema,
  type Loose,
} from './fixtures.support-spec';
import { OPENAPI_LIMITS } from './limits';
import { loadOpenApiDocument } from './load-document';
import { operationTools as sut, type OpenApiOperationTool } from './operation-tools';

function tool(tools: OpenApiOperationTool[], operationId: string): OpenApiOperationTool {
  const found = tools.find((t) => t.operationId === operationId);
  if (!found) throw new Error(`no tool ${operationId}`);
  return found;
}

describe(sut.name, () => {
  let petstore: OpenApiDocument;
  beforeAll(async () => {
    petstore = await loadOpenApiDocument(petstore31());
  });

  describe('the petstore', () => {
    it('makes one tool per operation, skipping what it cannot send', () => {
      const { tools, skipped } = sut(petstore);
      expect(tools.map((t) => t.name)).toEqual([
        'listPets',
        'createPet',
        'getPet',
        'replacePet',
        'deletePet',
        'patchPet',
        'get_stores_storeId_inventory',
        'login',
      ]);
      expect(skipped).toEqual([
        {
          operationId: 'uploadPhoto',
          reason:
            'request body media type multipart/form-data is not supported (application/json, +json and application/x-www-form-urlencoded are)',
        },
      ]);
    });

    it('maps parameters to properties, leaving out credential and hop-by-hop headers', () => {
      const list = tool(sut(petstore).tools, 'listPets');
      expect(list).toMatchObject({
        title: 'List pets',
        description: 'List pets\n\nAll the pets, a page at a time.\n\nGET /pets',
        method: 'GET',
        path: '/pets',
        tags: ['pets'],
        annotations: { readOnlyHint: true, openWorldHint: true },
      });
      expect(list.body).toBeUndefined();
      expect(list.parameters).toEqual([
        { name: 'limit', in: 'query', required: false, arg: 'limit' },
        { name: 'tags', in: 'query', required: false, arg: 'tags' },
        { name: 'fields', in: 'query', required: false, arg: 'fields', explode: false },
        { name: 'X-Request-Id', in: 'header', required: false, arg: 'X-Request-Id' },
      ]);
      expect(list.inputSchema).toEqual({
        type: 'object',
        properties: {
          limit: {
            type: 'integer',
            minimum: 1,
            maximum: 100,
            format: 'int32',
            description: 'How many items to return',
          },
          tags: { type: 'array', items: { type: 'string' } },
          fields: { type: 'array', items: { type: 'string' } },
          'X-Request-Id': { type: 'string', description: 'Correlation id' },
        },
        additionalProperties: false,
      });
    });

    it('leaves out a header parameter named like the source’s credential header, in any case', () => {
      const list = tool(
        sut(petstore, {}, { credentialHeaders: ['x-request-ID'] }).tools,
        'listPets',
      );
      expect(list.parameters.map((p) => p.name)).toEqual(['limit', 'tags', 'fields']);
      expect(Object.keys(list.inputSchema.properties)).toEqual(['limit', 'tags', 'fields']);
      // Only the header: a query parameter of the same name is the caller's.
      const other = tool(sut(petstore, {}, { credentialHeaders: ['limit'] }).tools, 'listPets');
      expect(other.parameters.map((p) => p.name)).toEqual([
        'limit',
        'tags',
        'fields',
        'X-Request-Id',
      ]);
    });

    it('makes the request body one property, without the server’s readOnly fields', () => {
      const create = tool(sut(petstore).tools, 'createPet');
      expect(create.body).toEqual({ arg: 'body', mediaType: 'application/json', required: true });
      expect(create.inputSchema.required).toEqual(['body']);
      expect(create.inputSchema.properties.body).toEqual({
        allOf: [
          {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string', examples: ['Rex'] },
              tag: { type: ['string', 'null'], maxLength: 20, description: 'A label' },
              owner: {
                minProperties: 1,
                allOf: [
                  { type: 'object', properties: { email: { type: 'string', format: 'email' } } },
                ],
              },
            },
          },
        ],
        description: 'The pet to add',
      });
      expect(create.annotations).toEqual({
        readOnlyHint: false,
        idempotentHint: false,
        openWorldHint: true,
      });
      const validate = compileInput(create.inputSchema);
      expect(validate({ body: { name: 'Rex', tag: null, owner: { email: 'a@b.example' } } })).toBe(
        true,
      );
      expect(validate({ body: { tag: 'x' } })).toBe(false);
      expect(validate({ body: { name: 'Rex', owner: { email: 'not an address' } } })).toBe(false);
      expect(validate({ body: { name: 'Rex' }, extra: 1 })).toBe(false);
    });

    it('takes +json and form bodies, and path-level parameters', () => {
      const { tools } = sut(petstore);
      const patch = tool(tools, 'patchPet');
      expect(patch.body).toEqual({
        arg: 'body',
        mediaType: 'application/merge-patch+json',
        required: true,
      });
      expect(patch.parameters).toEqual([
        { name: 'petId', in: 'path', required: true, arg: 'petId' },
      ]);
      expect(patch.inputSchema.required).toEqual(['petId', 'body']);
      expect(patch.annotations).toEqual({
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: true,
      });
      const login = tool(tools, 'login');
      expect(login.body).toEqual({
        arg: 'body',
        mediaType: 'application/x-www-form-urlencoded',
        required: true,
      });
      const replace = tool(tools, 'replacePet');
      expect(replace.body?.required).toBe(false);
      expect(replace.inputSchema.required).toEqual(['petId']);
    });

    it('derives an operationId from method and path where there is none', () => {
      const inventory = tool(sut(petstore).tools, 'get_stores_storeId_inventory');
      expect(inventory).toMatchObject({
        name: 'get_stores_storeId_inventory',
        description: 'GET /stores/{storeId}/inventory',
        inputSchema: { properties: { storeId: { type: 'integer' } }, required: ['storeId'] },
      });
      expect(inventory.title).toBeUndefined();
    });

    it('marks deprecated operations and DELETE as destructive', () => {
      const del = tool(sut(petstore).tools, 'deletePet');
      expect(del.description).toBe('Deprecated.\n\nDELETE /pets/{petId}');
      expect(del.annotations).toEqual({
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: true,
        openWorldHint: true,
      });
    });

    it('produces input schemas Ajv compiles, as JSON without cycles', () => {
      for (const t of sut(petstore).tools) {
        expect(JSON.parse(JSON.stringify(t.inputSchema))).toEqual(t.inputSchema);
        expect(() => compileInput(t.inputSchema)).not.toThrow();
      }
    });
  });

  describe('selection', () => {
    it.each<[string, Parameters<typeof sut>[1], string[]]>([
      ['nothing', undefined, ['listPets', 'createPet', 'getPet']],
      ['empty lists', { tags: [], operationIds: [] }, ['listPets', 'createPet', 'getPet']],
      ['a tag', { tags: ['store'] }, ['get_stores_storeId_inventory']],
      ['ids', { operationIds: ['login', 'getPet'] }, ['getPet', 'login']],
      [
        'the union of tags and ids',
        { tags: ['auth'], operationIds: ['get_stores_storeId_inventory'] },
        ['get_stores_storeId_inventory', 'login'],
      ],
    ])('selects by %s', (_what, selection, first) => {
      const ids = sut(petstore, selection).tools.map((t) => t.operationId);
      expect(ids.slice(0, first.length)).toEqual(first);
      if (selection?.tags?.length || selection?.operationIds?.length) expect(ids).toEqual(first);
    });

    it('refuses unknown ids and tags, naming the known ones', () => {
      expect(() => sut(petstore, { operationIds: ['listPet', 'getPet'] })).toThrow(
        new OpenApiDocumentError(
          'operationIds: unknown listPet (known: listPets, createPet, getPet, replacePet, deletePet, patchPet, uploadPhoto, get_stores_storeId_inventory, login)',
        ),
      );
      expect(() => sut(petstore, { operationIds: ['nope'], tags: ['cats', 'pets'] })).toThrow(
        new OpenApiDocumentError(
          'operationIds: unknown nope (known: listPets, createPet, getPet, replacePet, deletePet, patchPet, uploadPhoto, get_stores_storeId_inventory, login); tags: unknown cats (known: pets, store, auth)',
        ),
      );
    });

    it('shortens a long list of known ids', async () => {
      const paths: Record<string, unknown> = {};
      for (let i = 0; i < 25; i++)
        paths[`/r${i}`] = { get: { operationId: `op${i}`, responses: {} } };
      const doc = await loadOpenApiDocument({
        openapi: '3.1.0',
        info: { title: 't', version: '1' },
        paths,
      });
      expect(() => sut(doc, { operationIds: ['op99'] })).toThrow(
        /^operationIds: unknown op99 \(known: op0, op1, .*, op19, … \(25 in all\)\)$/,
      );
    });
  });

  describe('names', () => {
    let clashes: OpenApiDocument;
    beforeAll(async () => {
      clashes = await loadOpenApiDocument(collisions31());
    });

    it('disambiguates parameters across locations and the body', () => {
      const t = tool(sut(clashes).tools, 'get thing/by id');
      expect(t.parameters.map((p) => [`${p.in}:${p.name}`, p.arg])).toEqual([
        ['path:id', 'id'],
        ['query:id', 'query_id_2'],
        ['query:query_id', 'query_id'],
        ['query:body', 'body'],
        ['header:id', 'header_id'],
      ]);
      expect(t.body?.arg).toBe('body_');
      expect(Object.keys(t.inputSchema.properties)).toEqual([
        'id',
        'query_id_2',
        'query_id',
        'body',
        'header_id',
        'body_',
      ]);
      expect(t.inputSchema.properties.query_id_2).toEqual({ type: 'integer' });
    });

    it('makes tool names valid and unique, valid ids keeping theirs', () => {
      const { tools, skipped } = sut(clashes);
      const x = 'x'.repeat(70);
      expect(tools.map((t) => [t.operationId, t.name])).toEqual([
        ['get thing/by id', 'get_thing_by_id_2'],
        ['get_thing_by_id', 'get_thing_by_id'],
        [`${x}?`, 'x'.repeat(64)],
        [`${x}!`, `${'x'.repeat(62)}_2`],
        ['get_get_thing', 'get_get_thing'],
        ['get_get_thing_2', 'get_get_thing_2'],
      ]);
      for (const t of tools) expect(t.name).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
      expect(skipped).toEqual([
        {
          operationId: 'traceIt',
          reason:
            'TRACE operations are not exposed: the upstream would echo the request, credentials included',
        },
      ]);
    });

    it('gives the same names whatever is selected', () => {
      const all = sut(clashes).tools;
      const some = sut(clashes, { operationIds: ['x'.repeat(70) + '?', 'get_get_thing_2'] }).tools;
      for (const t of some) expect(t.name).toBe(tool(all, t.operationId).name);
      expect(some).toHaveLength(2);
    });
  });

  describe('schemas', () => {
    it('turns OpenAPI 3.0 schemas into JSON Schema', async () => {
      const doc = await loadOpenApiDocument(nullable30());
      const t = tool(sut(doc).tools, 'createItem');
      expect(t.parameters).toEqual([
        { name: 'dryRun', in: 'query', required: false, arg: 'dryRun' },
        {
          name: 'filter',
          in: 'query',
          required: false,
          arg: 'filter',
          mediaType: 'application/json',
        },
      ]);
      expect(t.inputSchema.properties.dryRun).toEqual({
        type: ['boolean', 'null'],
        examples: [true],
      });
      expect(t.inputSchema.properties.body).toEqual({
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', examples: ['widget'] },
          price: { type: ['number', 'null'], exclusiveMinimum: 0 },
          kind: { type: ['string', 'null'], enum: ['a', 'b', null] },
          parent: {
            anyOf: [
              { allOf: [{ type: 'object', properties: { id: { type: 'string' } } }] },
              { type: 'null' },
            ],
          },
          pet: {
            anyOf: [
              {
                type: 'object',
                required: ['petType'],
                properties: { petType: { type: 'string' }, meows: { type: 'boolean' } },
              },
              {
                type: 'object',
                required: ['petType'],
                properties: { petType: { type: 'string' }, barks: { type: 'boolean' } },
              },
            ],
          },
        },
      });
      const validate = compileInput(t.inputSchema);
      expect(
        validate({
          body: {
            name: 'w',
            price: null,
            kind: null,
            parent: null,
            pet: { petType: 'cat', meows: true },
          },
        }),
      ).toBe(true);
      expect(validate({ body: { name: 'w', price: 0 } })).toBe(false);
      expect(validate({ body: { name: 'w', kind: 'c' } })).toBe(false);
    });

    it('keeps recursive schemas finite and usable', async () => {
      const doc = await loadOpenApiDocument(circular31());
      const { tools } = sut(doc);
      const plant = tool(tools, 'plantTree');
      const validate = compileInput(plant.inputSchema);
      const tree = {
        name: 'a',
        children: [{ name: 'b', children: [{ name: 'c', children: [{}] }] }],
      };
      expect(validate({ body: tree })).toBe(true);
      expect(validate({ body: { children: [] } })).toBe(false);
      expect(() => compileInput(tool(tools, 'makePair').inputSchema)).not.toThrow();
    });

    it('drops keywords Ajv would reject rather than the operation', async () => {
      const doc = await loadOpenApiDocument(
        withBodySchema({
          type: 'object',
          required: true,
          properties: {
            code: { type: 'string', pattern: '(?i)^abc$' },
            zip: { type: 'string', pattern: '^\\d{5}$' },
            upload: { type: 'file' },
            size: { type: 'integer', minimum: '1', maxLength: -1 },
          },
        }),
      );
      const t = tool(sut(doc).tools, 'createThing');
      expect(t.inputSchema.properties.body).toEqual({
        type: 'object',
        properties: {
          code: { type: 'string' },
          zip: { type: 'string', pattern: '^\\d{5}$' },
          upload: {},
          size: { type: 'integer' },
        },
      });
      expect(compileInput(t.inputSchema)({ body: { zip: '1234' } })).toBe(false);
    });

    it('skips an operation whose schema is still not JSON Schema', async () => {
      const doc = await loadOpenApiDocument(
        withBodySchema({ type: 'object', dependentRequired: { a: 5 } }),
      );
      const { tools, skipped } = sut(doc);
      expect(tools).toEqual([]);
      expect(skipped).toEqual([
        {
          operationId: 'createThing',
          reason: expect.stringMatching(/^its input schema is not valid JSON Schema: /),
        },
      ]);
    });
  });

  describe('skipping', () => {
    it('skips an operation with an undeclared path parameter', async () => {
      const doc = await loadOpenApiDocument({
        openapi: '3.1.0',
        info: { title: 't', version: '1' },
        paths: { '/a/{x}/{y}': { get: { operationId: 'getA', responses: {} } } },
      });
      expect(sut(doc).skipped).toEqual([
        { operationId: 'getA', reason: 'path parameter {x}, {y} is not declared' },
      ]);
    });

    it('skips an operation marked too large when loading', async () => {
      const doc = await loadOpenApiDocument(withBodySchema({ type: 'string' }));
      doc.operations[0].problem = 'too large';
      expect(sut(doc)).toEqual({
        tools: [],
        skipped: [{ operationId: 'createThing', reason: 'too large' }],
      });
    });

    it('keeps an operation whose optional body cannot be sent, without the body', async () => {
      const input = withBodySchema({ type: 'string' }) as Loose;
      input.paths['/things'].post.requestBody = {
        content: { 'application/octet-stream': { schema: { type: 'string' } } },
      };
      const t = tool(sut(await loadOpenApiDocument(input)).tools, 'createThing');
      expect(t.body).toBeUndefined();
      expect(t.inputSchema.properties).toEqual({});
    });

    it('prefers application/json among the JSON media types', async () => {
      const input = withBodySchema({ type: 'string' }) as Loose;
      input.paths['/things'].post.requestBody = {
        content: {
          'text/plain': { schema: { type: 'string' } },
          'application/vnd.thing+json': { schema: { type: 'object' } },
          'application/json; charset=utf-8': { schema: { type: 'integer' } },
        },
      };
      const t = tool(sut(await loadOpenApiDocument(input)).tools, 'createThing');
      expect(t.body?.mediaType).toBe('application/json; charset=utf-8');
      expect(t.inputSchema.properties.body).toEqual({ type: 'integer' });
    });

    it('cuts a long description, keeping the method and path', async () => {
      const input = withBodySchema({ type: 'string' }) as Loose;
      input.paths['/things'].post.summary = 'Make a thing';
      input.paths['/things'].post.description = 'word '.repeat(400);
      const t = tool(sut(await loadOpenApiDocument(input)).tools, 'createThing');
      expect(t.description.length).toBeLessThanOrEqual(OPENAPI_LIMITS.maxDescriptionLength);
      expect(t.description.length).toBeGreaterThan(OPENAPI_LIMITS.maxDescriptionLength - 8);
      expect(t.description).toMatch(/^Make a thing\n\nword word .*…\n\nPOST \/things$/s);
    });
  });
});
