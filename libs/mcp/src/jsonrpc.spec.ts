import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { isSimpleRequest, sendJsonRpcError, writeJson } from './jsonrpc';

describe(isSimpleRequest.name, () => {
  const simple = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

  it.each([
    ['an integer id', simple],
    ['a string id', { ...simple, id: 'abc' }],
    ['an empty string id', { ...simple, id: '' }],
    ['id 0', { ...simple, id: 0 }],
    ['a negative integer id', { ...simple, id: -7 }],
    ['empty params', { ...simple, params: {} }],
    ['params with fields', { ...simple, method: 'tools/call', params: { name: 'add', a: 1 } }],
  ])('accepts a request with %s', (_what, body) => {
    expect(isSimpleRequest(body)).toBe(true);
  });

  it.each([
    ['a notification (no id)', { jsonrpc: '2.0', method: 'notifications/initialized' }],
    ['a result response', { jsonrpc: '2.0', id: 1, result: {} }],
    ['an error response', { jsonrpc: '2.0', id: 1, error: { code: -1, message: 'x' } }],
    ['a fractional id', { ...simple, id: 1.5 }],
    ['a NaN id', { ...simple, id: NaN }],
    ['an infinite id', { ...simple, id: Infinity }],
    ['a null id', { ...simple, id: null }],
    ['an array id', { ...simple, id: [1] }],
    ['an object id', { ...simple, id: { n: 1 } }],
    ['a boolean id', { ...simple, id: true }],
    ['params as an array', { ...simple, params: [1, 2] }],
    ['params null', { ...simple, params: null }],
    ['params a string', { ...simple, params: 'x' }],
    ['params with _meta', { ...simple, params: { _meta: { progressToken: 1 } } }],
    ['params with an undefined _meta', { ...simple, params: { _meta: undefined } }],
    ['jsonrpc 1.0', { ...simple, jsonrpc: '1.0' }],
    ['jsonrpc as a number', { ...simple, jsonrpc: 2 }],
    ['no jsonrpc', { id: 1, method: 'tools/list' }],
    ['a non-string method', { ...simple, method: 5 }],
    ['no method', { jsonrpc: '2.0', id: 1 }],
  ])('refuses %s', (_what, body) => {
    expect(isSimpleRequest(body)).toBe(false);
  });

  it.each([
    ['a batch', [simple]],
    ['null', null],
    ['undefined', undefined],
    ['a string', JSON.stringify(simple)],
    ['a number', 1],
  ])('refuses %s', (_what, body) => {
    expect(isSimpleRequest(body)).toBe(false);
  });

  // The fast path skips the SDK's schema for simple requests: a request with a key the schema does
  // not allow would then reach the SDK server, which drops it as an unknown message type.
  it('refuses a request with a top-level key JSON-RPC requests do not have', () => {
    expect(isSimpleRequest({ ...simple, result: {} })).toBe(false);
    expect(isSimpleRequest({ ...simple, extra: 1 })).toBe(false);
  });

  it('refuses an integer id beyond the safe range, which the SDK schema refuses', () => {
    expect(isSimpleRequest({ ...simple, id: 2 ** 53 })).toBe(false);
    expect(isSimpleRequest({ ...simple, id: 1e21 })).toBe(false);
  });

  /**
   * Bodies mixing well-formed and malformed JSON-RPC shapes: well-formed requests, and requests
   * with one thing wrong (id, params, version, method, an extra member, a missing member), plus
   * responses, batches and arbitrary JSON.
   */
  const jsonRpcLike = (): fc.Arbitrary<unknown> => {
    const goodId = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constantFrom(0, -0, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
    );
    const badId = fc.oneof(
      fc.double().filter((d) => !Number.isInteger(d)),
      fc.constantFrom(2 ** 53, -(2 ** 53), 1e21, null, true),
      fc.array(fc.integer(), { maxLength: 2 }),
      fc.object({ maxDepth: 1 }),
    );
    const goodParams = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
    const badParams = fc.oneof(
      fc.record({ _meta: fc.jsonValue({ maxDepth: 2 }) }),
      fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 }),
      fc.constantFrom(null, 'x', 1),
    );
    const good = fc.record(
      {
        jsonrpc: fc.constant('2.0'),
        id: goodId,
        method: fc.oneof(fc.string(), fc.constantFrom('tools/list', 'tools/call', 'ping')),
        params: goodParams,
      },
      { requiredKeys: ['jsonrpc', 'id', 'method'] },
    );
    const mutated = fc.oneof(
      fc.tuple(good, badId).map(([r, id]) => ({ ...r, id })),
      fc.tuple(good, badParams).map(([r, params]) => ({ ...r, params })),
      fc
        .tuple(good, fc.constantFrom('1.0', 2, '2.0 ', undefined))
        .map(([r, jsonrpc]) => ({ ...r, jsonrpc })),
      fc.tuple(good, fc.constantFrom(1, null, [])).map(([r, method]) => ({ ...r, method })),
      fc
        .tuple(good, fc.dictionary(fc.string({ minLength: 1 }), fc.jsonValue({ maxDepth: 1 })))
        .map(([r, extra]) => ({ ...extra, ...r })),
      fc.tuple(good, fc.object({ maxDepth: 1 })).map(([r, result]) => ({ ...r, result })),
      good.map(({ id: _id, ...notification }) => notification),
      good.map(({ method: _method, ...rest }) => rest),
      fc.record({ jsonrpc: fc.constant('2.0'), id: goodId, result: fc.object({ maxDepth: 1 }) }),
    );
    return fc.oneof(
      { arbitrary: good, weight: 3 },
      { arbitrary: mutated, weight: 6 },
      { arbitrary: fc.array(good, { maxLength: 2 }), weight: 1 },
      { arbitrary: fc.jsonValue({ maxDepth: 1 }), weight: 1 },
    );
  };

  /** The same value as the JSON body parser would hand it over. */
  const viaJson = (value: unknown): unknown => {
    const json = JSON.stringify(value);
    return json === undefined ? undefined : JSON.parse(json);
  };

  it("is true only for bodies the SDK's JSONRPCMessageSchema accepts", () => {
    let simpleSeen = 0;
    let otherSeen = 0;
    fc.assert(
      fc.property(jsonRpcLike(), (generated) => {
        for (const body of [generated, viaJson(generated)]) {
          if (!isSimpleRequest(body)) {
            otherSeen += 1;
            continue;
          }
          simpleSeen += 1;
          expect(JSONRPCMessageSchema.safeParse(body).success).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
    expect(simpleSeen).toBeGreaterThan(200);
    expect(otherSeen).toBeGreaterThan(200);
  });
});

describe('JSON responses', () => {
  let server: Server | undefined;

  afterEach(async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  /** A real HTTP server answering every request with `handler`; resolves with its URL. */
  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
    const s = createServer(handler);
    server = s;
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}/`;
  }

  it('writeJson sends the status, a JSON content type, the byte length and the body', async () => {
    const json = JSON.stringify({ greeting: 'grüße, 世界 🙂', n: 1 });
    const url = await serve((_req, res) => writeJson(res, 201, json));

    const res = await fetch(url);

    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(json)));
    expect(Buffer.byteLength(json)).toBeGreaterThan(json.length);
    expect(await res.text()).toBe(json);
  });

  it('writeJson keeps headers set on the response before it', async () => {
    const url = await serve((_req, res) => {
      res.setHeader('X-Request-Id', 'req-42');
      res.setHeader('Mcp-Session-Id', 'session-1');
      writeJson(res, 200, '{}');
    });

    const res = await fetch(url);

    expect(res.headers.get('x-request-id')).toBe('req-42');
    expect(res.headers.get('mcp-session-id')).toBe('session-1');
    expect(await res.json()).toEqual({});
  });

  it('sendJsonRpcError answers with a JSON-RPC error without an id', async () => {
    const message = 'Bad Request: nicht unterstützt';
    const url = await serve((_req, res) => {
      res.setHeader('X-Request-Id', 'req-7');
      sendJsonRpcError(res, 400, -32600, message);
    });

    const res = await fetch(url);
    const text = await res.text();

    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    expect(res.headers.get('x-request-id')).toBe('req-7');
    expect(JSON.parse(text)).toEqual({
      jsonrpc: '2.0',
      error: { code: -32600, message },
      id: null,
    });
  });
});
