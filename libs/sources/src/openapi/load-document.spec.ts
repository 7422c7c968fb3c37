import fs, { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { OpenApiDocument } from './document';
import { OpenApiDocumentError } from './errors';
import {
  circular31,
  manyOperations,
  nullable30,
  petstore31,
  withBodySchema,
  YAML_DOCUMENT,
  type Loose,
} from './fixtures.support-spec';
import { OPENAPI_LIMITS } from './limits';
import { loadOpenApiDocument as sut } from './load-document';

function depth(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  return 1 + Math.max(0, ...Object.values(v).map(depth));
}

async function refusal(input: unknown): Promise<string> {
  const err = await sut(input).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenApiDocumentError);
  return (err as Error).message;
}

describe(sut.name, () => {
  describe('parsing', () => {
    it('reads an object without changing it', async () => {
      const input = petstore31();
      const before = JSON.stringify(input);
      const doc = await sut(input);
      expect(JSON.stringify(input)).toBe(before);
      expect(doc).toMatchObject({
        openapi: '3.1.0',
        dialect: '3.1',
        info: { title: 'Petstore', version: '1.0.0' },
        servers: [{ url: 'https://eu.pets.example.com/v1' }],
        securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
        security: [{ apiKey: [] }],
      });
      expect(doc.operations.map((o) => `${o.method} ${o.path}`)).toEqual([
        'GET /pets',
        'POST /pets',
        'GET /pets/{petId}',
        'PUT /pets/{petId}',
        'DELETE /pets/{petId}',
        'PATCH /pets/{petId}',
        'POST /pets/{petId}/photo',
        'GET /stores/{storeId}/inventory',
        'POST /login',
      ]);
    });

    it('reads JSON text, and YAML text with anchors', async () => {
      const fromJson = await sut(JSON.stringify(petstore31()));
      expect(fromJson).toEqual(await sut(petstore31()));

      const doc = await sut(YAML_DOCUMENT);
      expect(doc.dialect).toBe('3.0');
      expect(doc.operations.map((o) => o.operationId)).toEqual(['getNote', 'deleteNote']);
      const [get, del] = doc.operations;
      expect(get.parameters[0]).toMatchObject({ name: 'noteId', in: 'path', required: true });
      expect(del.parameters[0].schema).toEqual({ type: 'string', minLength: 1 });
      expect(del.parameters[0].schema).not.toBe(get.parameters[0].schema);
    });

    it('reads UTF-8 bytes', async () => {
      const doc = await sut(Buffer.from(YAML_DOCUMENT, 'utf8'));
      expect(doc.info.title).toBe('Notes');
    });
  });

  describe('$ref expansion', () => {
    it('expands parameter, request body and schema references into plain copies', async () => {
      const doc = await sut(petstore31());
      const list = doc.operations[0];
      expect(list.parameters.map((p) => `${p.in}:${p.name}`)).toEqual([
        'query:limit',
        'query:tags',
        'query:fields',
        'header:X-API-Key',
        'header:Authorization',
        'header:Transfer-Encoding',
        'header:X-Request-Id',
      ]);
      expect(list.parameters[0]).toMatchObject({
        description: 'How many items to return',
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: 100 },
      });
      const create = doc.operations[1];
      expect(create.requestBody).toMatchObject({ required: true, description: 'The pet to add' });
      const schema = create.requestBody?.content['application/json'].schema as Loose;
      expect(schema.allOf[0].properties.name).toEqual({ type: 'string', example: 'Rex' });
      // 3.1: annotations beside a $ref are laid over it, other keywords combine with allOf
      expect(schema.allOf[0].properties.tag).toEqual({
        type: ['string', 'null'],
        maxLength: 20,
        description: 'A label',
      });
      expect(schema.allOf[0].properties.owner).toEqual({
        minProperties: 1,
        allOf: [{ type: 'object', properties: { email: { type: 'string', format: 'email' } } }],
      });
      expect(schema.xml).toBeUndefined();
      expect(JSON.stringify(doc)).not.toContain('$ref');
    });

    it('merges path-level parameters, the operation’s own winning', async () => {
      const input = petstore31() as Loose;
      input.paths['/pets/{petId}'].get.parameters = [
        {
          name: 'petId',
          in: 'path',
          required: true,
          description: 'Own',
          schema: { type: 'integer' },
        },
      ];
      const doc = await sut(input);
      const get = doc.operations.find((o) => o.operationId === 'getPet');
      expect(get?.parameters).toEqual([
        {
          name: 'petId',
          in: 'path',
          required: true,
          description: 'Own',
          schema: { type: 'integer' },
        },
      ]);
      const del = doc.operations.find((o) => o.operationId === 'deletePet');
      expect(del?.parameters[0]).toMatchObject({
        description: 'The pet',
        schema: { type: 'string' },
      });
    });

    it('cuts recursive references, leaving JSON without cycles', async () => {
      const doc = await sut(circular31());
      const tree = doc.operations[0].requestBody?.content['application/json'].schema as Loose;
      expect(tree.properties.children.items).toEqual({
        description: 'Recursive reference to #/components/schemas/Node; not expanded.',
      });
      const pair = doc.operations[1].requestBody?.content['application/json'].schema as Loose;
      expect(pair.properties.b.properties.a).toEqual({
        description: 'Recursive reference to #/components/schemas/A; not expanded.',
      });
      expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
    });

    it('cuts a chain of references that runs too deep', async () => {
      const chain = (count: number, wrap: (ref: unknown) => unknown) =>
        Object.fromEntries(
          Array.from({ length: count }, (_, i) => [
            `S${i}`,
            i === count - 1 ? { type: 'string' } : wrap({ $ref: `#/components/schemas/S${i + 1}` }),
          ]),
        );
      const body = (doc: OpenApiDocument) =>
        JSON.stringify(doc.operations[0].requestBody?.content['application/json'].schema);

      const longChain = await sut(
        withBodySchema(
          { $ref: '#/components/schemas/S0' },
          chain(40, (ref) => ({ type: 'object', properties: { next: ref } })),
        ),
      );
      const refCut = `Reference to #/components/schemas/S${OPENAPI_LIMITS.maxRefDepth} nested too deeply; not expanded.`;
      expect(body(longChain)).toContain(refCut);

      const deepItems = (ref: unknown) => {
        let s = ref;
        for (let i = 0; i < 6; i++) s = { type: 'array', items: s };
        return s;
      };
      const deep = await sut(
        withBodySchema({ $ref: '#/components/schemas/S0' }, chain(30, deepItems)),
      );
      expect(body(deep)).toContain('Nested too deeply; not expanded.');
      expect(depth(JSON.parse(body(deep)))).toBeLessThanOrEqual(OPENAPI_LIMITS.maxSchemaDepth + 1);
    });

    it('marks an operation whose schemas expand too far instead of failing the document', async () => {
      // Ten properties, each a reference to the next level: 10^5 leaves once expanded.
      const levels: Record<string, unknown> = {};
      for (let i = 0; i < 5; i++) {
        const props = Object.fromEntries(
          Array.from({ length: 10 }, (_, j) => [
            `p${j}`,
            { $ref: `#/components/schemas/L${i + 1}` },
          ]),
        );
        levels[`L${i}`] = { type: 'object', properties: props };
      }
      levels.L5 = { type: 'string' };
      const doc = await sut(withBodySchema({ $ref: '#/components/schemas/L0' }, levels));
      expect(doc.operations[0].problem).toBe(
        `its parameter and request body schemas, $refs expanded, exceed ${OPENAPI_LIMITS.maxOperationSchemaNodes} JSON values`,
      );
      expect(doc.operations[0].requestBody).toBeUndefined();
    });

    it('refuses a document whose operations together expand too far', async () => {
      const props = Object.fromEntries(
        Array.from({ length: 4000 }, (_, j) => [`p${j}`, { type: 'string' }]),
      );
      const input = manyOperations(70) as Loose;
      input.components = { schemas: { Big: { type: 'object', properties: props } } };
      for (const item of Object.values<Loose>(input.paths)) {
        item.get.parameters = [
          { name: 'q', in: 'query', schema: { $ref: '#/components/schemas/Big' } },
        ];
      }
      expect(await refusal(input)).toContain(
        `exceed ${OPENAPI_LIMITS.maxExpandedNodes} JSON values in all`,
      );
    });
  });

  describe('external references', () => {
    let server: Server;
    let hits: string[];
    let baseUrl: string;
    let dir: string;

    beforeAll(async () => {
      hits = [];
      server = createServer((req, res) => {
        hits.push(req.url ?? '');
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ type: 'string' }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      dir = mkdtempSync(join(tmpdir(), 'openapi-ref-'));
      writeFileSync(join(dir, 'pet.json'), JSON.stringify({ type: 'string' }));
    });

    afterAll(async () => {
      rmSync(dir, { recursive: true, force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    afterEach(() => jest.restoreAllMocks());

    it.each([
      ['an http URL', () => `${baseUrl}/pet.json`],
      ['an http URL with a fragment', () => `${baseUrl}/defs.json#/Pet`],
      ['a file URL', () => pathToFileURL(join(dir, 'pet.json')).href],
      ['an absolute path', () => join(dir, 'pet.json')],
      ['a relative file', () => './pet.json'],
      ['an anchor', () => '#pet'],
    ])('refuses %s without reading it', async (_what, ref) => {
      const reads = [
        jest.spyOn(fs, 'readFile'),
        jest.spyOn(fs, 'readFileSync'),
        jest.spyOn(fs.promises, 'readFile'),
        jest.spyOn(fs, 'createReadStream'),
      ];
      const message = await refusal(withBodySchema({ $ref: ref() }));
      expect(message).toBe(
        `document: paths./things.post.requestBody.content.application/json.schema: $ref "${ref()}" points outside the document; only internal references (#/components/…) are supported — inline or bundle external files first`,
      );
      for (const read of reads) {
        expect(read.mock.calls.filter((args) => JSON.stringify(args).includes(dir))).toEqual([]);
      }
      expect(hits).toEqual([]);
    });

    it('refuses an external reference anywhere, not only in schemas', async () => {
      const input = petstore31() as Loose;
      input.paths['/pets'].get.responses['200'] = { $ref: `${baseUrl}/responses.yaml#/ok` };
      expect(await refusal(input)).toContain('paths./pets.get.responses.200: $ref');
      expect(hits).toEqual([]);
    });
  });

  describe('refusals', () => {
    it.each<[string, () => unknown, string]>([
      ['an empty text', () => '  \n', 'document: empty'],
      [
        'a number',
        () => 42,
        'not an OpenAPI 3.x document: expected an object, JSON text or YAML text',
      ],
      ['a JSON array', () => '[1]', 'not an OpenAPI 3.x document: it is not a JSON object'],
      [
        'an unrelated object',
        () => ({ foo: 1 }),
        'not an OpenAPI 3.x document: it has no "openapi" version field',
      ],
      [
        'Swagger 2.0',
        () => ({ swagger: '2.0', info: { title: 't', version: '1' }, paths: {} }),
        'not an OpenAPI 3.x document: Swagger 2.0 is not supported; convert it to OpenAPI 3.x first (for example with swagger2openapi)',
      ],
      [
        'OpenAPI 3.2',
        () => ({ ...petstore31(), openapi: '3.2.0' }),
        'document: openapi: version "3.2.0" is not supported (3.0.x and 3.1.x are)',
      ],
      [
        'a numeric version',
        () => 'openapi: 3.1\ninfo: {title: t, version: "1"}\npaths: {}\n',
        'document: openapi: the version must be a string such as "3.1.0", not 3.1',
      ],
      [
        'a missing title',
        () => ({ openapi: '3.1.0', info: { version: '1' }, paths: {} }),
        'document: info: missing property title',
      ],
      [
        'responses that are not an object',
        () => ({
          openapi: '3.0.3',
          info: { title: 't', version: '1' },
          paths: { '/pets': { get: { responses: 5 } } },
        }),
        'document: paths./pets.get.responses: must be object',
      ],
      [
        'a misspelt keyword',
        () => ({
          openapi: '3.0.3',
          info: { title: 't', version: '1' },
          paths: { '/pets': { get: { paramters: [], responses: { 200: { description: 'OK' } } } } },
        }),
        'document: paths./pets.get: unexpected property paramters',
      ],
      [
        'a reference that does not resolve',
        () => withBodySchema({ $ref: '#/components/schemas/Missing' }),
        'document: paths./things.post.requestBody.content.application/json.schema: $ref "#/components/schemas/Missing" does not resolve',
      ],
      [
        'a duplicate operationId',
        () => {
          const doc = petstore31() as Loose;
          doc.paths['/login'].post.operationId = 'listPets';
          return doc;
        },
        'document: operationId "listPets" is used by both paths./pets.get and paths./login.post; operationIds must be unique',
      ],
      [
        'too many operations',
        () => manyOperations(OPENAPI_LIMITS.maxOperations + 1),
        `document: paths: ${OPENAPI_LIMITS.maxOperations + 1} operations, more than the ${OPENAPI_LIMITS.maxOperations} allowed; split the document`,
      ],
    ])('refuses %s', async (_what, input, message) => {
      expect(await refusal(input())).toBe(message);
    });

    it('refuses malformed JSON and YAML, saying which', async () => {
      expect(await refusal('{"openapi": ')).toMatch(/^document: not valid JSON: /);
      expect(await refusal('openapi: 3.1.0\ninfo: [\n')).toMatch(/^document: not valid YAML: /);
      expect(await refusal('a: 1\na: 2\n')).toMatch(/^document: not valid YAML: .*unique/i);
    });

    it('refuses a __proto__ key', async () => {
      const text = JSON.stringify(petstore31()).replace(
        '"Pet":{',
        '"Pet":{"__proto__":{"type":"string"},',
      );
      expect(await refusal(text)).toBe(
        'document: components.schemas.Pet: the key __proto__ is not allowed',
      );
    });

    it('refuses an object with a cycle', async () => {
      const input = petstore31() as Loose;
      input.components.schemas.Pet.properties.self = input.components.schemas.Pet;
      expect(await refusal(input)).toMatch(/^document: not representable as JSON/);
    });

    it('refuses a document nested too deeply', async () => {
      let schema: Record<string, unknown> = { type: 'string' };
      for (let i = 0; i < OPENAPI_LIMITS.maxDocumentDepth; i++)
        schema = { type: 'array', items: schema };
      expect(await refusal(withBodySchema(schema))).toMatch(
        new RegExp(`nested deeper than ${OPENAPI_LIMITS.maxDocumentDepth} levels$`),
      );
    });

    it('refuses a text larger than the limit before parsing it', async () => {
      const text = `openapi: 3.1.0\n#${' '.repeat(OPENAPI_LIMITS.maxDocumentChars)}\n`;
      expect(await refusal(text)).toBe(
        `document: ${text.length} characters, more than the ${OPENAPI_LIMITS.maxDocumentChars} allowed`,
      );
    });

    it('accepts the largest number of operations allowed', async () => {
      const doc = await sut(manyOperations(OPENAPI_LIMITS.maxOperations));
      expect(doc.operations).toHaveLength(OPENAPI_LIMITS.maxOperations);
    });

    it('keeps a 3.0 document in its dialect', async () => {
      const doc = await sut(nullable30());
      expect(doc.dialect).toBe('3.0');
      const price = (doc.operations[0].requestBody?.content['application/json'].schema as Loose)
        .properties.price;
      expect(price).toEqual({ type: 'number', minimum: 0, exclusiveMinimum: true, nullable: true });
    });
  });
});
