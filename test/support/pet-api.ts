import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';

/**
 * A real small HTTP API on loopback (plain node:http) that serves its own OpenAPI 3.1 document,
 * for the platform to import as a tool source.
 */
export interface PetApi {
  /** Base URL, http://127.0.0.1:PORT. */
  url: string;
  /** `${url}/openapi.json` (also served as YAML at `${url}/openapi.yaml`). */
  documentUrl: string;
  document: Record<string, unknown>;
  /** `document` as YAML text. */
  yaml: string;
  /** Every request received, rejected ones included. */
  requests: PetApiRequest[];
  stop(): Promise<void>;
}

export interface PetApiRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, the form fields of a urlencoded body, else the text; absent when empty. */
  body?: unknown;
}

export interface PetApiOptions {
  /** When set, every API route needs `X-Api-Key: <apiKey>` or a Bearer token from /oauth/token. */
  apiKey?: string;
  /** The client_credentials client of POST /oauth/token (default pet-client / pet-secret). */
  clientId?: string;
  clientSecret?: string;
}

interface Pet {
  id: number;
  name: string;
  tag?: string;
}

const ERROR = { $ref: '#/components/schemas/Error' };
const PET = { $ref: '#/components/schemas/Pet' };
const PET_ID = {
  name: 'petId',
  in: 'path',
  required: true,
  description: 'The id of the pet.',
  schema: { type: 'integer' },
};
const json = (description: string, schema: unknown) => ({
  description,
  content: { 'application/json': { schema } },
});

function buildDocument(url: string, secured: boolean): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Pet API',
      version: '1.0.0',
      description: 'A small pet store used as an e2e tool source.',
    },
    servers: [{ url }],
    tags: [
      { name: 'pets', description: 'Pets in the store' },
      { name: 'admin', description: 'Destructive operations' },
      { name: 'debug', description: 'Failure and diagnostics endpoints' },
    ],
    ...(secured ? { security: [{ apiKey: [] }, { oauth2: [] }] } : {}),
    paths: {
      '/pets': {
        get: {
          operationId: 'listPets',
          tags: ['pets'],
          summary: 'List pets',
          description: 'Lists the pets, optionally filtered by tag and limited in number.',
          parameters: [
            {
              name: 'limit',
              in: 'query',
              required: false,
              description: 'At most this many pets.',
              schema: { type: 'integer', minimum: 1 },
            },
            {
              name: 'tag',
              in: 'query',
              required: false,
              description: 'Only pets with this tag.',
              schema: { type: 'string' },
            },
          ],
          responses: {
            '200': json('The pets.', { type: 'array', items: PET }),
            '401': json('Missing or bad credentials.', ERROR),
          },
        },
        post: {
          operationId: 'createPet',
          tags: ['pets'],
          summary: 'Create a pet',
          description: 'Adds a pet to the store.',
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/NewPet' } },
            },
          },
          responses: {
            '201': json('The created pet.', PET),
            '400': json('The body is not a valid NewPet.', ERROR),
            '401': json('Missing or bad credentials.', ERROR),
          },
        },
      },
      '/pets/{petId}': {
        get: {
          operationId: 'getPet',
          tags: ['pets'],
          summary: 'Get a pet',
          description: 'Returns one pet by id.',
          parameters: [PET_ID],
          responses: {
            '200': json('The pet.', PET),
            '400': json('petId is not an integer.', ERROR),
            '401': json('Missing or bad credentials.', ERROR),
            '404': json('No such pet.', ERROR),
          },
        },
        delete: {
          operationId: 'deletePet',
          tags: ['admin'],
          summary: 'Delete a pet',
          description: 'Removes a pet from the store.',
          parameters: [PET_ID],
          responses: {
            '204': { description: 'Deleted.' },
            '401': json('Missing or bad credentials.', ERROR),
            '404': json('No such pet.', ERROR),
          },
        },
      },
      '/pets/{petId}/note': {
        get: {
          operationId: 'getPetNote',
          tags: ['pets'],
          summary: "A pet's note",
          description: 'A short plain-text note about the pet.',
          parameters: [PET_ID],
          responses: {
            '200': {
              description: 'The note.',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
            '401': json('Missing or bad credentials.', ERROR),
            '404': json('No such pet.', ERROR),
          },
        },
      },
      '/fail': {
        get: {
          operationId: 'failAlways',
          tags: ['debug'],
          summary: 'Always fails',
          description: 'Answers 500, always.',
          responses: { '500': json('The failure.', ERROR) },
        },
      },
      '/big': {
        get: {
          operationId: 'bigPayload',
          tags: ['debug'],
          summary: 'A big payload',
          description: 'Answers about 3 MiB of JSON.',
          responses: {
            '200': json('The payload.', {
              type: 'object',
              properties: {
                items: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { i: { type: 'integer' }, pad: { type: 'string' } },
                  },
                },
              },
            }),
          },
        },
      },
      '/whoami': {
        get: {
          operationId: 'whoAmI',
          tags: ['debug'],
          summary: 'Who am I',
          description: 'Echoes the trace id and the credentials the request carried.',
          parameters: [
            {
              name: 'X-Trace-Id',
              in: 'header',
              required: false,
              description: 'A trace id to echo back.',
              schema: { type: 'string' },
            },
          ],
          responses: {
            '200': json('What the API saw.', {
              type: 'object',
              properties: {
                traceId: { type: ['string', 'null'] },
                authorization: { type: ['string', 'null'] },
                apiKey: { type: ['string', 'null'] },
              },
              required: ['traceId', 'authorization', 'apiKey'],
            }),
          },
        },
      },
    },
    components: {
      schemas: {
        Pet: {
          type: 'object',
          required: ['id', 'name'],
          properties: {
            id: { type: 'integer' },
            name: { type: 'string' },
            tag: { type: 'string' },
          },
        },
        NewPet: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' }, tag: { type: 'string' } },
        },
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'string' } },
        },
      },
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        oauth2: {
          type: 'oauth2',
          flows: { clientCredentials: { tokenUrl: `${url}/oauth/token`, scopes: {} } },
        },
      },
    },
  };
}

// Built once: about 3 MiB of JSON.
let bigBody: string | undefined;
const big = () =>
  (bigBody ??= JSON.stringify({
    items: Array.from({ length: 3 * 1024 }, (_, i) => ({ i, pad: 'x'.repeat(1000) })),
  }));

function send(res: ServerResponse, status: number, body?: unknown, type = 'application/json') {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(raw: string, type: string): unknown {
  if (!raw) return undefined;
  if (type.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(raw));
  }
  if (type.includes('json')) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw;
    }
  }
  return raw;
}

export async function startPetApi(opts: PetApiOptions = {}): Promise<PetApi> {
  const clientId = opts.clientId ?? 'pet-client';
  const clientSecret = opts.clientSecret ?? 'pet-secret';
  const requests: PetApiRequest[] = [];
  const tokens = new Set<string>();
  const pets = new Map<number, Pet>([
    [1, { id: 1, name: 'Rex', tag: 'dog' }],
    [2, { id: 2, name: 'Tom', tag: 'cat' }],
  ]);
  let nextId = 3;
  let document: Record<string, unknown> = {};
  let yaml = '';

  const authorized = (req: IncomingMessage) => {
    if (!opts.apiKey) return true;
    if (req.headers['x-api-key'] === opts.apiKey) return true;
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    return !!bearer && tokens.has(bearer[1]);
  };

  const issueToken = (req: IncomingMessage, res: ServerResponse, body: unknown) => {
    const form = (body && typeof body === 'object' ? body : {}) as Record<string, string>;
    let id = form.client_id;
    let secret = form.client_secret;
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const cut = decoded.includes(':') ? decoded.indexOf(':') : decoded.length;
      // RFC 6749 §2.3.1: both halves are form-urlencoded inside the Basic credentials.
      const unform = (s: string) => {
        try {
          return decodeURIComponent(s.replace(/\+/g, ' '));
        } catch {
          return s;
        }
      };
      id = unform(decoded.slice(0, cut));
      secret = unform(decoded.slice(cut + 1));
    }
    if (form.grant_type !== 'client_credentials') {
      return send(res, 400, { error: 'unsupported_grant_type' });
    }
    if (id !== clientId || secret !== clientSecret)
      return send(res, 401, { error: 'invalid_client' });
    const token = randomBytes(18).toString('base64url');
    tokens.add(token);
    send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
  };

  const petRoute = (req: IncomingMessage, res: ServerResponse, path: string, body: unknown) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (path === '/pets' && req.method === 'GET') {
      const tag = url.searchParams.get('tag');
      const limit = url.searchParams.get('limit');
      let list = [...pets.values()].filter((p) => tag === null || p.tag === tag);
      if (limit !== null) list = list.slice(0, Math.max(0, Number(limit) || 0));
      return send(res, 200, list);
    }
    if (path === '/pets' && req.method === 'POST') {
      const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
      if (typeof b.name !== 'string' || !b.name)
        return send(res, 400, { error: 'name is required' });
      if (b.tag !== undefined && typeof b.tag !== 'string') {
        return send(res, 400, { error: 'tag must be a string' });
      }
      const pet: Pet = { id: nextId++, name: b.name, ...(b.tag ? { tag: b.tag } : {}) };
      pets.set(pet.id, pet);
      return send(res, 201, pet);
    }
    const m = /^\/pets\/([^/]+)(\/note)?$/.exec(path);
    if (m) {
      const raw = decodeURIComponent(m[1]);
      if (!/^-?\d+$/.test(raw)) return send(res, 400, { error: 'petId must be an integer' });
      const id = Number(raw);
      const pet = pets.get(id);
      if (m[2] && req.method === 'GET') {
        if (!pet) return send(res, 404, { error: `no pet ${id}` });
        return send(res, 200, `${pet.name} is a good ${pet.tag ?? 'pet'}.`, 'text/plain');
      }
      if (!m[2] && req.method === 'GET') {
        return pet ? send(res, 200, pet) : send(res, 404, { error: `no pet ${id}` });
      }
      if (!m[2] && req.method === 'DELETE') {
        if (!pet) return send(res, 404, { error: `no pet ${id}` });
        pets.delete(id);
        return send(res, 204);
      }
      return send(res, 405, { error: 'method not allowed' });
    }
    if (path === '/fail' && req.method === 'GET') return send(res, 500, { error: 'boom' });
    if (path === '/big' && req.method === 'GET') return send(res, 200, big());
    if (path === '/whoami' && req.method === 'GET') {
      const one = (v: string | string[] | undefined) =>
        Array.isArray(v) ? v.join(', ') : (v ?? null);
      return send(res, 200, {
        traceId: one(req.headers['x-trace-id']),
        authorization: one(req.headers.authorization),
        apiKey: one(req.headers['x-api-key']),
      });
    }
    return send(res, 404, { error: 'not found' });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const raw = await readBody(req);
    const body = parseBody(raw, req.headers['content-type'] ?? '');
    requests.push({
      method: req.method ?? 'GET',
      path,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      ...(body !== undefined ? { body } : {}),
    });
    if (req.method === 'GET' && path === '/openapi.json') return send(res, 200, document);
    if (req.method === 'GET' && path === '/openapi.yaml') {
      return send(res, 200, yaml, 'application/yaml');
    }
    if (path === '/oauth/token') {
      if (req.method !== 'POST') return send(res, 405, { error: 'method not allowed' });
      return issueToken(req, res, body);
    }
    if (!authorized(req)) return send(res, 401, { error: 'missing or bad api key' });
    petRoute(req, res, path, body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: (err as Error).message });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A JSON round trip unshares the objects the builder reuses: no YAML aliases, and a consumer
  // that dereferences in place cannot corrupt other operations.
  document = JSON.parse(JSON.stringify(buildDocument(url, !!opts.apiKey))) as Record<
    string,
    unknown
  >;
  yaml = stringify(document);

  return {
    url,
    documentUrl: `${url}/openapi.json`,
    document,
    yaml,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
