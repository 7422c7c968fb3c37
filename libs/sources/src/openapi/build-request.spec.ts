import { buildRequest as sut } from './build-request';
import { OpenApiRequestError } from './errors';
import { petstore31 } from './fixtures.support-spec';
import { loadOpenApiDocument } from './load-document';
import { operationTools, type OpenApiOperationTool } from './operation-tools';

const BASE = 'https://api.example.com/v2';

function handMade(overrides: Partial<OpenApiOperationTool>): OpenApiOperationTool {
  return {
    operationId: 'op',
    name: 'op',
    description: 'GET /x',
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
    method: 'GET',
    path: '/x',
    parameters: [],
    annotations: { readOnlyHint: true, openWorldHint: true },
    tags: [],
    ...overrides,
  };
}

describe(sut.name, () => {
  let tools: Record<string, OpenApiOperationTool>;
  beforeAll(async () => {
    const doc = await loadOpenApiDocument(petstore31());
    tools = Object.fromEntries(operationTools(doc).tools.map((t) => [t.operationId, t]));
  });

  describe('path', () => {
    it('puts the operation path under the base URL’s path', () => {
      const req = sut(tools.getPet, BASE, { petId: 'rex' });
      expect(req.method).toBe('GET');
      expect(req.url.href).toBe('https://api.example.com/v2/pets/rex');
      expect(sut(tools.getPet, `${BASE}/`, { petId: 'rex' }).url.href).toBe(
        'https://api.example.com/v2/pets/rex',
      );
      expect(sut(tools.getPet, 'http://localhost:8080', { petId: 'rex' }).url.href).toBe(
        'http://localhost:8080/pets/rex',
      );
    });

    it.each([
      ['../admin', '/v2/pets/..%2Fadmin'],
      ['../../../etc/passwd', '/v2/pets/..%2F..%2F..%2Fetc%2Fpasswd'],
      ['%2e%2e', '/v2/pets/%252e%252e'],
      ['a/b?c#d', '/v2/pets/a%2Fb%3Fc%23d'],
      ['\\..\\admin', '/v2/pets/%5C..%5Cadmin'],
      ['//evil.example.com/x', '/v2/pets/%2F%2Fevil.example.com%2Fx'],
      ['https://evil.example.com', '/v2/pets/https%3A%2F%2Fevil.example.com'],
      ['ünï cødé', '/v2/pets/%C3%BCn%C3%AF%20c%C3%B8d%C3%A9'],
    ])('keeps %j inside its segment and on the base origin', (petId, pathname) => {
      const req = sut(tools.getPet, BASE, { petId });
      expect(req.url.origin).toBe('https://api.example.com');
      expect(req.url.pathname).toBe(pathname);
      expect(req.url.search).toBe('');
      expect(req.url.hash).toBe('');
    });

    it.each(['..', '.'])('refuses %j, which would be a dot segment', (petId) => {
      // encodeURIComponent leaves dots alone, and the URL parser would resolve the segment away
      expect(() => sut(tools.getPet, BASE, { petId })).toThrow(
        new OpenApiRequestError(`path /pets/${petId} has a "." or ".." segment`),
      );
    });

    it('allows dots that do not make a whole segment', () => {
      const tool = handMade({
        path: '/files/{name}.json',
        parameters: [{ name: 'name', in: 'path', required: true, arg: 'name' }],
      });
      expect(sut(tool, BASE, { name: '..' }).url.pathname).toBe('/v2/files/...json');
    });

    it('refuses a missing or empty path parameter', () => {
      expect(() => sut(tools.getPet, BASE, {})).toThrow(
        new OpenApiRequestError('path parameter petId is missing'),
      );
      expect(() => sut(tools.getPet, BASE, { petId: '' })).toThrow(
        new OpenApiRequestError('path parameter petId is empty'),
      );
    });

    it('refuses a template that leaves the base path', () => {
      const tool = handMade({ path: '/../../admin' });
      expect(() => sut(tool, BASE, {})).toThrow(OpenApiRequestError);
    });

    it('serializes label and matrix styles', () => {
      const param = { name: 'p', in: 'path' as const, required: true, arg: 'p' };
      const url = (style: string, explode: boolean, value: unknown) =>
        sut(handMade({ path: '/x/{p}', parameters: [{ ...param, style, explode }] }), BASE, {
          p: value,
        }).url.pathname;
      expect(url('simple', false, [1, 'a b'])).toBe('/v2/x/1,a%20b');
      expect(url('simple', false, { r: 1, g: 2 })).toBe('/v2/x/r,1,g,2');
      expect(url('simple', true, { r: 1, g: 2 })).toBe('/v2/x/r=1,g=2');
      expect(url('label', false, ['a', 'b'])).toBe('/v2/x/.a,b');
      expect(url('label', true, ['a', 'b'])).toBe('/v2/x/.a.b');
      expect(url('matrix', false, 5)).toBe('/v2/x/;p=5');
      expect(url('matrix', true, ['a', 'b'])).toBe('/v2/x/;p=a;p=b');
      expect(url('matrix', true, { r: 1, g: 2 })).toBe('/v2/x/;r=1;g=2');
    });
  });

  describe('query', () => {
    it('repeats exploded arrays and joins the others, leaving out absent values', () => {
      const req = sut(tools.listPets, BASE, {
        limit: 10,
        tags: ['a b', 'c&d'],
        fields: ['id', 'name'],
      });
      expect(req.url.href).toBe(
        'https://api.example.com/v2/pets?limit=10&tags=a+b&tags=c%26d&fields=id%2Cname',
      );
      expect([...req.url.searchParams]).toEqual([
        ['limit', '10'],
        ['tags', 'a b'],
        ['tags', 'c&d'],
        ['fields', 'id,name'],
      ]);
      expect(sut(tools.listPets, BASE, { limit: 3 }).url.search).toBe('?limit=3');
      expect(sut(tools.listPets, BASE, {}).url.search).toBe('');
    });

    it('keeps the base URL’s own query', () => {
      expect(sut(tools.listPets, `${BASE}?tenant=t1`, { limit: 1 }).url.href).toBe(
        'https://api.example.com/v2/pets?tenant=t1&limit=1',
      );
    });

    it('serializes objects, delimited arrays and JSON content parameters', () => {
      const q = (
        style: string | undefined,
        explode: boolean | undefined,
        value: unknown,
        mediaType?: string,
      ) => [
        ...sut(
          handMade({
            parameters: [
              {
                name: 'f',
                in: 'query',
                required: false,
                arg: 'f',
                ...(style ? { style } : {}),
                ...(explode !== undefined ? { explode } : {}),
                ...(mediaType ? { mediaType } : {}),
              },
            ],
          }),
          BASE,
          { f: value },
        ).url.searchParams,
      ];
      expect(q('deepObject', true, { a: 1, b: 'x' })).toEqual([
        ['f[a]', '1'],
        ['f[b]', 'x'],
      ]);
      expect(q(undefined, undefined, { a: 1, b: 2 })).toEqual([
        ['a', '1'],
        ['b', '2'],
      ]);
      expect(q('form', false, { a: 1, b: 2 })).toEqual([['f', 'a,1,b,2']]);
      expect(q('spaceDelimited', false, [1, 2])).toEqual([['f', '1 2']]);
      expect(q('pipeDelimited', false, [1, 2])).toEqual([['f', '1|2']]);
      expect(q(undefined, undefined, { q: 'x' }, 'application/json')).toEqual([['f', '{"q":"x"}']]);
      expect(q(undefined, undefined, true)).toEqual([['f', 'true']]);
    });
  });

  describe('headers', () => {
    it('sends header parameters, and an Accept', () => {
      const req = sut(tools.listPets, BASE, { 'X-Request-Id': 'abc-1' });
      expect(req.headers).toEqual({
        accept: 'application/json, */*;q=0.5',
        'x-request-id': 'abc-1',
      });
      expect(req.body).toBeUndefined();
    });

    it('never lets a parameter set a reserved header, even in a hand-made tool', () => {
      const names = [
        'Authorization',
        'Cookie',
        'Host',
        'Content-Length',
        'Transfer-Encoding',
        'Connection',
      ];
      const tool = handMade({
        parameters: names.map((name) => ({
          name,
          in: 'header' as const,
          required: false,
          arg: name,
        })),
      });
      const req = sut(tool, BASE, Object.fromEntries(names.map((n) => [n, 'x'])));
      expect(Object.keys(req.headers)).toEqual(['accept']);
    });

    it('refuses a header value a header cannot carry', () => {
      const refused = new OpenApiRequestError(
        'header parameter X-Request-Id cannot be sent: it has a line break, NUL or a character beyond Latin-1',
      );
      expect(() => sut(tools.listPets, BASE, { 'X-Request-Id': 'a\r\nX-Evil: 1' })).toThrow(
        refused,
      );
      expect(() => sut(tools.listPets, BASE, { 'X-Request-Id': 'a\u2028b' })).toThrow(refused);
      expect(sut(tools.listPets, BASE, { 'X-Request-Id': 'café' }).headers['x-request-id']).toBe(
        'café',
      );
    });

    it('sends cookie parameters encoded in one Cookie header', () => {
      const tool = handMade({
        parameters: [
          { name: 'session', in: 'cookie', required: false, arg: 'session' },
          { name: 'lang', in: 'cookie', required: false, arg: 'lang' },
        ],
      });
      expect(sut(tool, BASE, { session: 'a; b=c', lang: 'en' }).headers.cookie).toBe(
        'session=a%3B%20b%3Dc; lang=en',
      );
    });
  });

  describe('body', () => {
    it('sends a JSON body with its media type', () => {
      const req = sut(tools.createPet, BASE, { body: { name: 'Rex', tag: null } });
      expect(req).toEqual({
        method: 'POST',
        url: new URL('https://api.example.com/v2/pets'),
        headers: { accept: 'application/json, */*;q=0.5', 'content-type': 'application/json' },
        body: '{"name":"Rex","tag":null}',
      });
      const patch = sut(tools.patchPet, BASE, { petId: '7', body: { name: 'R' } });
      expect(patch.headers['content-type']).toBe('application/merge-patch+json');
      expect(patch.method).toBe('PATCH');
    });

    it('sends a form body URL-encoded', () => {
      const req = sut(tools.login, BASE, { body: { user: 'a&b', scopes: ['x', 'y z'] } });
      expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(req.body).toBe('user=a%26b&scopes=x&scopes=y+z');
    });

    it('sends no body when the optional one is absent', () => {
      const req = sut(tools.replacePet, BASE, { petId: '1' });
      expect(req.body).toBeUndefined();
      expect(req.headers['content-type']).toBeUndefined();
      expect(req.method).toBe('PUT');
    });
  });

  it('refuses a base URL that is not http(s)', () => {
    expect(() => sut(tools.getPet, 'file:///etc', { petId: '1' })).toThrow(
      new OpenApiRequestError('base URL file: is not http(s)'),
    );
  });
});
