import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { ToolRegistry } from '@app/tools';
import { allAudit, newRequestId, waitForRequest } from './support/audit';
import { http, type JsonRpcMessage, type RawResponse, sleep } from './support/http';
import { expectErrorBody, isClientError } from './support/hostile';
import { hostileKey, hostileString, hostileValue } from './support/hostile-arbitraries';
import { bearer, MCP_POST_HEADERS, resourceMetadataUrl, type TenantWithKey } from './support/mcp';
import { envelope, MODERN, modernPost, modernRequest, openListen } from './support/mcp-modern';
import { usePlatform } from './support/platform';

/**
 * The 2026-07-28 arm of a tenant's MCP endpoint under hostile input: no 5xx, always a JSON-RPC
 * answer or one of the platform's HTTP refusals, no credential or stack trace in an answer, no
 * way around the tool policy or the body limits, no way into another tenant.
 */

/** Runs per property: every generator branch is reached, and the file stays well under 60 s. */
const RUNS = 150;
const PROPERTY_TIMEOUT = 120_000;

const PV = 'io.modelcontextprotocol/protocolVersion';
const CAPS = 'io.modelcontextprotocol/clientCapabilities';
const INFO = 'io.modelcontextprotocol/clientInfo';
const LEVEL = 'io.modelcontextprotocol/logLevel';
const LOG_LEVELS = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
];

/** Left out of the object it would be a field of. */
const ABSENT = Symbol('absent');
type Maybe<T> = T | typeof ABSENT;
const maybe = <T>(arb: fc.Arbitrary<T>, present = 6, absent = 1): fc.Arbitrary<Maybe<T>> =>
  fc.oneof({ weight: present, arbitrary: arb }, { weight: absent, arbitrary: fc.constant(ABSENT) });
/** `arb` now and then (one time in `1 + none`), null otherwise. */
const sometimes = <T>(arb: fc.Arbitrary<T>, none = 2): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: none, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
const compact = (fields: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== ABSENT));

/** What Node's HTTP client sends in a header value: HTAB, visible ASCII and latin-1 (obs-text). */
const SENDABLE = /^[\t\x20-\x7e\x80-\xff]*$/;
const MAX_HEADER = 2_000;
const sendable = (s: string): string =>
  [...s]
    .filter((c) => SENDABLE.test(c))
    .join('')
    .slice(0, MAX_HEADER);
/** The SEP-2243 form of a header value that is not plain ASCII: `=?base64?…?=`. */
const base64Form = (s: string) =>
  `=?base64?${Buffer.from(s.slice(0, 1_000), 'utf8').toString('base64')}?=`;
/** A name as a conforming client puts it in `Mcp-Name`: as is, or in its Base64 form. */
const nameHeaderFor = (s: string) =>
  SENDABLE.test(s) && s.length <= MAX_HEADER ? s : base64Form(s);

/** A stack frame, a source path or a dependency path: nothing an answer should carry. */
const INTERNALS =
  /(?:\n|\\n)\s+at \S|\bat (?:async )?[\w$.<>]+ \(|node_modules[\\/]|\/work\/|\.ts:\d+:\d+/;

const final = (messages: JsonRpcMessage[]) => messages.find((m) => 'result' in m || 'error' in m);

/**
 * An answer a client can act on: a 2xx or 4xx (never 5xx); a notification accepted with an empty
 * 202; otherwise JSON-RPC with a final result or error, or one of the platform's HTTP refusals
 * (credentials, scope step-up, body limits) with `{statusCode, error, message}`. And nothing in
 * it that is not the client's business: the credential it sent, a stack trace, a file path.
 */
function expectWellAnswered(res: RawResponse, secret: string, what: string): void {
  const context = () => `${what} answered ${res.status}: ${res.text.slice(0, 400)}`;
  const ok = res.status >= 200 && res.status < 300;
  if (!ok && !isClientError(res.status)) throw new Error(`neither 2xx nor 4xx: ${context()}`);
  const headers = [...res.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
  if (res.text.includes(secret) || headers.includes(secret)) {
    throw new Error(`the credential is in the answer: ${context()}`);
  }
  if (INTERNALS.test(res.text)) throw new Error(`internals in the answer: ${context()}`);
  // Node's own refusal of headers beyond its size limit, before the application sees them.
  if (res.status === 431) return;
  if (res.status === 202) {
    if (res.text !== '') throw new Error(`a 202 with a body: ${context()}`);
    return;
  }
  if (res.messages.length > 0) {
    for (const m of res.messages) {
      if (m.jsonrpc !== '2.0') throw new Error(`not JSON-RPC 2.0: ${context()}`);
    }
    const last = final(res.messages);
    if (!last) throw new Error(`no result or error: ${context()}`);
    if (last.error) {
      if (!Number.isInteger(last.error.code) || typeof last.error.message !== 'string') {
        throw new Error(`a malformed JSON-RPC error: ${context()}`);
      }
    } else if (!ok) {
      throw new Error(`a result with an error status: ${context()}`);
    }
    return;
  }
  if (ok) throw new Error(`a 2xx that is neither JSON-RPC nor an empty 202: ${context()}`);
  expectErrorBody(res.status, res.json, what);
}

/** One generated request, shortened and without its credential, for a failure message. */
const describeSent = (headers: Record<string, unknown>, body: string) => {
  const shown = Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, /^(authorization|x-api-key)$/i.test(k) ? '…' : v]),
  );
  const h = JSON.stringify(shown).slice(0, 600);
  return `headers ${h} body ${body.length > 600 ? `${body.slice(0, 600)}… (${body.length} chars)` : body}`;
};

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Header values of every hostile kind Node's client can send (at most 2,000 characters). */
const hostileHeader: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: hostileString.map(sendable) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\t',
      MODERN,
      ` ${MODERN}\t`,
      `${MODERN}, ${MODERN}`,
      MODERN.replace(/-/g, '/'),
      '2025-11-25',
      '2025-06-18',
      '2027-01-01',
      'tools/call',
      'tools/list',
      'TOOLS/CALL',
      'subscriptions/listen',
      'add',
      'ADD',
      ' add ',
      base64Form('add'),
      base64Form('whoami'),
      '=?base64?!!?=',
      '=?base64??=',
      '=?base64?YWRk',
      '=?BASE64?YWRk?=',
      '__proto__',
      'constructor',
      'null',
      '\u00e9',
      'add\u00a0',
      '\u0085add',
      "'; DROP TABLE tenants;--",
    ),
  },
);

/** How a standard header is sent: as a conforming client would, missing, twice, or hostile. */
type HeaderPlan = 'match' | 'absent' | 'twice' | { value: string };
const headerPlan: fc.Arbitrary<HeaderPlan> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<HeaderPlan>('match') },
  { weight: 1, arbitrary: fc.constant<HeaderPlan>('absent') },
  { weight: 1, arbitrary: fc.constant<HeaderPlan>('twice') },
  { weight: 3, arbitrary: hostileHeader.map((value): HeaderPlan => ({ value })) },
);

const METHODS = [
  'tools/list',
  'tools/call',
  'server/discover',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'completion/complete',
  'logging/setLevel',
  'ping',
  'initialize',
  'tasks/get',
  'tasks/cancel',
  'tasks/list',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
  'subscriptions/unlisten',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/roots/list_changed',
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'TOOLS/CALL',
  'tools/call ',
  ' tools/list',
  'tools/call\u0000',
  'tools//call',
  'tools/list/',
  '',
];

const TOOL_NAMES = [
  'whoami',
  'echo',
  'add',
  'subtract',
  'notes_list',
  'notes_create',
  'no_such_tool',
];

/** The `_meta` envelope: each key right, missing, oddly typed or hostile; extra keys; or junk. */
const envelopeArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 9,
    arbitrary: fc
      .record({
        version: maybe(
          fc.oneof(
            { weight: 8, arbitrary: fc.constant<unknown>(MODERN) },
            {
              weight: 2,
              arbitrary: fc.constantFrom<unknown>(
                '2025-11-25',
                '2025-06-18',
                '2024-11-05',
                '2027-01-01',
                ` ${MODERN}`,
                `${MODERN}\u0000`,
                `${MODERN}\u200b`,
                '',
                [MODERN],
                { v: MODERN },
              ),
            },
            { weight: 2, arbitrary: hostileValue },
          ),
          12,
          1,
        ),
        capabilities: maybe(
          fc.oneof(
            {
              weight: 5,
              arbitrary: fc.constantFrom<unknown>(
                {},
                { roots: { listChanged: true } },
                { sampling: {} },
                { elicitation: {} },
                { experimental: { x: {} } },
              ),
            },
            { weight: 2, arbitrary: fc.dictionary(hostileKey, hostileValue, { maxKeys: 3 }) },
            { weight: 2, arbitrary: hostileValue },
          ),
          10,
          1,
        ),
        clientInfo: maybe(
          fc.oneof(
            { weight: 4, arbitrary: fc.constant<unknown>({ name: 'hostile', version: '1.0.0' }) },
            {
              weight: 2,
              arbitrary: fc.record(
                { name: hostileValue, version: hostileValue },
                { requiredKeys: [] },
              ),
            },
            { weight: 1, arbitrary: hostileValue },
          ),
          4,
          1,
        ),
        logLevel: maybe(
          fc.oneof(fc.constantFrom<unknown>(...LOG_LEVELS), hostileString, hostileValue),
          1,
          3,
        ),
        progressToken: maybe(fc.oneof(fc.integer(), hostileString, hostileValue), 1, 4),
        extra: sometimes(fc.dictionary(hostileKey, hostileValue, { minKeys: 1, maxKeys: 3 })),
      })
      .map((e) => ({
        ...(e.extra ?? {}),
        ...compact({
          [PV]: e.version,
          [CAPS]: e.capabilities,
          [INFO]: e.clientInfo,
          [LEVEL]: e.logLevel,
          progressToken: e.progressToken,
        }),
      })),
  },
  { weight: 1, arbitrary: hostileValue },
);

/** Params without their envelope (added apart): each field right, missing or hostile; or junk. */
const paramsArb: fc.Arbitrary<Maybe<unknown>> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .record({
        name: maybe(
          fc.oneof(
            { weight: 5, arbitrary: fc.constantFrom<unknown>(...TOOL_NAMES) },
            { weight: 1, arbitrary: hostileString },
            { weight: 1, arbitrary: hostileValue },
          ),
          3,
          2,
        ),
        arguments: maybe(
          fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom<unknown>({ a: 1, b: 2 }, { text: 'hi' }, {}) },
            { weight: 1, arbitrary: fc.dictionary(hostileKey, hostileValue, { maxKeys: 4 }) },
            { weight: 1, arbitrary: hostileValue },
          ),
          3,
          2,
        ),
        uri: maybe(fc.oneof(fc.constant<unknown>('test://x'), hostileString, hostileValue), 1, 6),
        cursor: maybe(fc.oneof(hostileString, hostileValue), 1, 6),
        notifications: maybe(hostileValue, 1, 8),
        extra: sometimes(fc.dictionary(hostileKey, hostileValue, { minKeys: 1, maxKeys: 2 })),
      })
      .map((p) => ({
        ...(p.extra ?? {}),
        ...compact({
          name: p.name,
          arguments: p.arguments,
          uri: p.uri,
          cursor: p.cursor,
          notifications: p.notifications,
        }),
      })),
  },
  { weight: 1, arbitrary: hostileValue },
  { weight: 1, arbitrary: fc.constant(ABSENT) },
);

const idArb: fc.Arbitrary<Maybe<unknown>> = fc.oneof(
  { weight: 4, arbitrary: fc.integer() },
  { weight: 2, arbitrary: hostileString },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(null, true, false, 1.5, -0, 1e308, 2 ** 64, [], {}, [1]),
  },
  { weight: 1, arbitrary: fc.constant(ABSENT) },
);

/** Bodies that are not one well-shaped JSON-RPC object. */
const oddBody = (): string[] => {
  const req = modernRequest('tools/list').body;
  const call = modernRequest('tools/call', { name: 'add', arguments: { a: 1, b: 2 } }).body;
  return [
    '',
    '{',
    '{"jsonrpc":"2.0",',
    'null',
    '[]',
    '[[]]',
    '"tools/list"',
    '1',
    'true',
    `\ufeff${JSON.stringify(req)}`,
    JSON.stringify([req]),
    JSON.stringify([call, call]),
    JSON.stringify([req, { jsonrpc: '2.0', id: 1, method: 'tools/list' }]),
    JSON.stringify([[req]]),
    JSON.stringify({ jsonrpc: '2.0', id: 1, result: { _meta: envelope() } }),
    JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'x' } }),
    JSON.stringify(req).replace('"tools/list"', '"\\ud800"'),
    JSON.stringify(call).replace('"add"', '"\\udfff"'),
    JSON.stringify(req).replace(`"${MODERN}"`, '"2026-07-28\\u0000"'),
    `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"_meta":${JSON.stringify(envelope())}}}`,
  ];
};

/** The methods that answer a well-formed request with a result, and the params they take. */
const SERVED: readonly [string, Record<string, unknown>][] = [
  ['tools/list', {}],
  ['tools/call', { name: 'whoami', arguments: {} }],
  ['tools/call', { name: 'echo', arguments: { text: 'hi' } }],
  ['tools/call', { name: 'add', arguments: { a: 1, b: 2 } }],
  ['server/discover', {}],
  ['prompts/list', {}],
  ['resources/list', {}],
  ['resources/templates/list', {}],
  [
    'completion/complete',
    {
      ref: { type: 'ref/prompt', name: 'notes_summary' },
      argument: { name: 'query', value: 'x' },
    },
  ],
];

/**
 * What is hostile in a generated request: one part (the rest as a conforming client sends it),
 * every part at once (`all`), or nothing (`none`: it must be served).
 */
type Focus =
  'none' | 'envelope' | 'params' | 'method' | 'headers' | 'id' | 'body' | 'transport' | 'all';
const focusArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Focus>('none') },
  { weight: 4, arbitrary: fc.constant<Focus>('envelope') },
  { weight: 3, arbitrary: fc.constant<Focus>('params') },
  { weight: 2, arbitrary: fc.constant<Focus>('method') },
  { weight: 3, arbitrary: fc.constant<Focus>('headers') },
  { weight: 2, arbitrary: fc.constant<Focus>('id') },
  { weight: 1, arbitrary: fc.constant<Focus>('body') },
  { weight: 1, arbitrary: fc.constant<Focus>('transport') },
  { weight: 3, arbitrary: fc.constant<Focus>('all') },
);

interface Generated {
  /** Which principal sends it (see the battery's beforeAll). */
  who: number;
  /** `Authorization: Bearer` or `X-API-Key`. */
  apiKeyHeader: boolean;
  focus: Focus;
  /** The well-formed request the parts out of focus come from (an index into SERVED). */
  served: number;
  jsonrpc: Maybe<unknown>;
  id: Maybe<unknown>;
  method: unknown;
  params: Maybe<unknown>;
  meta: Maybe<unknown>;
  /** The whole body, when the focus is the body. */
  raw: string;
  version: HeaderPlan;
  methodHeader: HeaderPlan;
  name: HeaderPlan;
  casing: 'canonical' | 'lower' | 'upper';
  extra: Record<string, string | string[]>;
}

const extraHeaders: fc.Arbitrary<Record<string, string | string[]>> = fc
  .record(
    {
      Accept: fc.constantFrom(
        'application/json',
        'text/event-stream',
        '*/*',
        '',
        'text/html',
        'application/json;q=0, text/event-stream;q=0',
      ),
      'Content-Type': fc.constantFrom(
        'application/json; charset=utf-8',
        'application/vnd.api+json',
        'text/plain',
        'application/json; charset=latin1',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        '',
      ),
      'Content-Encoding': fc.constantFrom('identity', 'gzip', 'br', 'x-unknown'),
      'Mcp-Session-Id': hostileHeader,
      'Last-Event-ID': hostileHeader,
      'X-Request-Id': hostileHeader,
      'Mcp-Param-Name': hostileHeader,
    },
    { requiredKeys: [] },
  )
  .map((h) => h as Record<string, string>);

const generated: fc.Arbitrary<Generated> = fc.record({
  who: fc.integer({ min: 0, max: 3 }),
  apiKeyHeader: fc.boolean(),
  focus: focusArb,
  served: fc.integer({ min: 0, max: SERVED.length - 1 }),
  jsonrpc: fc.oneof(
    { weight: 3, arbitrary: fc.constant<unknown>('2.0') },
    { weight: 2, arbitrary: hostileValue },
    { weight: 1, arbitrary: fc.constant(ABSENT) },
  ),
  id: idArb,
  method: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom<unknown>(...METHODS) },
    { weight: 1, arbitrary: hostileString },
    { weight: 1, arbitrary: hostileValue },
  ),
  params: paramsArb,
  meta: maybe(envelopeArb, 12, 1),
  raw: fc.constantFrom(...oddBody()),
  version: headerPlan,
  methodHeader: headerPlan,
  name: headerPlan,
  casing: fc.constantFrom<Generated['casing']>('canonical', 'lower', 'upper'),
  extra: extraHeaders,
});

/** The request a generated case sends: its focus hostile, the rest well-formed. */
function requestOf(
  g: Generated,
  auth: Record<string, string>,
): { headers: Record<string, string | string[]>; body: string } {
  const hostile = (part: Focus) => g.focus === 'all' || g.focus === part;
  const [servedMethod, servedParams] = SERVED[g.served];
  const method = hostile('method') ? g.method : servedMethod;
  let params: Maybe<unknown> = hostile('params') ? g.params : servedParams;
  const meta = hostile('envelope') ? g.meta : envelope();
  if (
    params !== ABSENT &&
    params !== null &&
    typeof params === 'object' &&
    !Array.isArray(params)
  ) {
    params = { ...params, ...compact({ _meta: meta }) };
  } else if (params === ABSENT && meta !== ABSENT) {
    params = { _meta: meta };
  }
  const body = compact({
    jsonrpc: hostile('id') ? g.jsonrpc : '2.0',
    id: hostile('id') ? g.id : 7,
    method,
    params,
  });
  const plans = hostile('headers')
    ? { version: g.version, method: g.methodHeader, name: g.name }
    : { version: 'match' as const, method: 'match' as const, name: 'match' as const };
  const headers = headersOf(
    { ...plans, casing: g.casing, extra: hostile('transport') ? g.extra : {} },
    derivedHeaders(body),
    auth,
  );
  return { headers, body: g.focus === 'body' ? g.raw : JSON.stringify(body) };
}

/** The headers of a request, `derived` being what a conforming client would send. */
function headersOf(
  g: {
    version: HeaderPlan;
    method: HeaderPlan;
    name: HeaderPlan;
    casing: Generated['casing'];
    extra: Record<string, string | string[]>;
  },
  derived: { version?: string; method?: string; name?: string },
  auth: Record<string, string>,
): Record<string, string | string[]> {
  const cased = (name: string) =>
    g.casing === 'lower' ? name.toLowerCase() : g.casing === 'upper' ? name.toUpperCase() : name;
  const headers: Record<string, string | string[]> = { ...MCP_POST_HEADERS, ...auth, ...g.extra };
  const put = (name: string, plan: HeaderPlan, value: string | undefined) => {
    if (plan === 'absent') return;
    if (plan === 'match') {
      if (value !== undefined) headers[cased(name)] = value;
    } else if (plan === 'twice') {
      headers[cased(name)] = [value ?? '', value ?? ''];
    } else {
      headers[cased(name)] = plan.value;
    }
  };
  put('MCP-Protocol-Version', g.version, derived.version);
  put('Mcp-Method', g.method, derived.method);
  put('Mcp-Name', g.name, derived.name);
  return headers;
}

/** What a conforming client would put in the standard headers for this body. */
function derivedHeaders(body: Record<string, unknown>): {
  version?: string;
  method?: string;
  name?: string;
} {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  const params = isObject(body.params) ? body.params : {};
  const claimed = isObject(params._meta) ? params._meta[PV] : undefined;
  const named = params.name ?? params.uri;
  return {
    version: typeof claimed === 'string' ? nameHeaderFor(claimed) : MODERN,
    method: typeof body.method === 'string' ? sendable(body.method) : undefined,
    name: typeof named === 'string' ? nameHeaderFor(named) : undefined,
  };
}

// ---------------------------------------------------------------------------------------------

describe('MCP 2026-07-28 arm: hostile battery', () => {
  const p = usePlatform();
  /** A POST to a tenant's MCP endpoint, sent exactly as given. */
  const post = (
    slug: string,
    headers: Record<string, string | string[]>,
    body: string | Buffer,
    timeoutMs = 10_000,
  ) => http(p.url, { method: 'POST', path: `/t/${slug}/mcp`, headers, body, timeoutMs });
  const authOf = (key: string, apiKeyHeader = false): Record<string, string> =>
    apiKeyHeader ? { 'X-API-Key': key } : bearer(key);

  /** A well-formed call the platform must still answer right. */
  async function expectStillServes(t: TenantWithKey, apiKeyHeader = false): Promise<void> {
    const res = await modernPost(p, t.slug, authOf(t.key, apiKeyHeader), {
      method: 'tools/call',
      params: { name: 'add', arguments: { a: 2, b: 3 } },
    });
    if (res.status !== 200 || final(res.messages)?.result?.structuredContent?.result !== 5) {
      throw new Error(`a well-formed add answered ${res.status}: ${res.text.slice(0, 300)}`);
    }
  }

  describe('hostile envelopes, params, headers, ids and methods (property-based)', () => {
    /** [dual tenant, math:use], [dual tenant, no scopes], [modern-only], [legacy-only]. */
    const senders: { slug: string; key: string }[] = [];
    let dual: TenantWithKey;

    beforeAll(async () => {
      dual = await p.admin.tenantWithKey(['math:use']);
      const none = await p.admin.createKey(dual.slug, { name: 'no scopes', scopes: [] });
      const modernOnly = await p.admin.tenantWithKey(['math:use']);
      await p.admin.patchTenant(modernOnly.slug, { protocol: 'modern-only' });
      const legacyOnly = await p.admin.tenantWithKey(['math:use']);
      await p.admin.patchTenant(legacyOnly.slug, { protocol: 'legacy-only' });
      senders.push(dual, { slug: dual.slug, key: none.secret }, modernOnly, legacyOnly);
    });

    it(
      'never answer with a 5xx, always with JSON-RPC or an HTTP refusal, and the next request is served',
      async () => {
        let served = 0;
        let refused = 0;
        await fc.assert(
          fc.asyncProperty(generated, async (g) => {
            const sender = senders[g.who];
            const auth = authOf(sender.key, g.apiKeyHeader);
            const { headers, body } = requestOf(g, auth);
            const res = await post(sender.slug, headers, body);
            expectWellAnswered(res, sender.key, describeSent(headers, body));
            const result = res.status === 200 ? final(res.messages)?.result : undefined;
            if (result) served += 1;
            else refused += 1;
            // Nothing hostile in it: a principal the tool allows is served, whatever the casing.
            if (g.focus === 'none' && (g.who === 0 || g.who === 2)) {
              const what = describeSent(headers, body);
              expect({ what, served: !!result }).toEqual({ what, served: true });
            }
            await expectStillServes(dual, g.apiKeyHeader);
          }),
          { numRuns: RUNS },
        );
        // The generators reach the tools, not only the refusals, and the refusals too.
        expect(served).toBeGreaterThan(RUNS / 20);
        expect(refused).toBeGreaterThan(RUNS / 4);
      },
      PROPERTY_TIMEOUT,
    );

    it('subscriptions/listen with hostile filters: a refusal or a stream, never a 5xx', async () => {
      const filters: unknown[] = [
        5,
        'toolsListChanged',
        null,
        [],
        [true],
        { toolsListChanged: 'yes' },
        { toolsListChanged: 1 },
        { toolsListChanged: null },
        JSON.parse('{"__proto__":{"toolsListChanged":true}}'),
        { constructor: true },
        { resourcesListChanged: true, promptsListChanged: true },
        {},
      ];
      for (const notifications of filters) {
        const { headers, body } = modernRequest('subscriptions/listen', { notifications });
        const abort = new AbortController();
        const res = await fetch(`${p.url}/t/${dual.slug}/mcp`, {
          method: 'POST',
          headers: { ...headers, ...bearer(dual.key) },
          body: JSON.stringify(body),
          signal: abort.signal,
        });
        const what = `listen ${JSON.stringify(notifications)}`;
        expect({ what, status: res.status < 500 }).toEqual({ what, status: true });
        if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
          // A stream was opened: its first event is the acknowledgement (or the end).
          const reader = res.body!.getReader();
          const first = new TextDecoder().decode((await reader.read()).value);
          expect(first).toMatch(/notifications\/subscriptions\/acknowledged|"result"/);
          abort.abort();
          await reader.cancel().catch(() => undefined);
        } else {
          const json = (await res.json()) as JsonRpcMessage;
          expect({ what, code: json.error?.code }).toEqual({ what, code: expect.any(Number) });
        }
      }
      await expectStillServes(dual);
    });
  });

  describe('the tool policy cannot be talked around', () => {
    /** Names a key might slip `add` past the policy with. */
    const LOOKALIKES = [
      'add',
      'ADD',
      'Add',
      'aDd',
      ' add',
      'add ',
      '\tadd',
      'add\t',
      'add\n',
      '\nadd',
      'add\r\n',
      'add\u0000',
      'add\u00a0',
      '\u00a0add',
      'add\u0085',
      'add\u200b',
      'a\u200bdd',
      '\ufeffadd',
      'add\u3000',
      '\u0430dd', // Cyrillic a
      '\u0251dd', // Latin alpha
      '\uff41\uff44\uff44', // fullwidth
      '\uff21\uff24\uff24',
      'ad\u0501', // Cyrillic komi de
      'a\u0301dd',
      'add\u0301',
      '\u{1d41a}dd', // mathematical bold a
      'add/',
      '/add',
      'tools/add',
      'math:add',
      'add\\',
      'add%00',
      '%61dd',
      'add,whoami',
      'whoami, add',
      'add;whoami',
    ];
    const otherNames = fc.constantFrom(
      'add',
      'whoami',
      'echo',
      'subtract',
      base64Form('add'),
      base64Form('whoami'),
      base64Form('ADD'),
      base64Form('add '),
      'add, whoami',
      'whoami, add',
    );
    type NamePlan = 'same' | 'base64' | 'absent' | 'twice' | { value: string };
    const scopeCase = fc.record({
      who: fc.constantFrom('no scopes', 'allow-list without add', 'add switched off'),
      apiKeyHeader: fc.boolean(),
      bodyName: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...LOOKALIKES) },
        { weight: 1, arbitrary: hostileString },
      ),
      namePlan: fc.oneof(
        { weight: 4, arbitrary: fc.constant<NamePlan>('same') },
        { weight: 2, arbitrary: fc.constant<NamePlan>('base64') },
        { weight: 1, arbitrary: fc.constant<NamePlan>('absent') },
        { weight: 1, arbitrary: fc.constant<NamePlan>('twice') },
        {
          weight: 3,
          arbitrary: fc
            .oneof(otherNames, fc.constantFrom(...LOOKALIKES.filter((n) => SENDABLE.test(n))))
            .map((value): NamePlan => ({ value })),
        },
      ),
      method: fc.oneof(
        { weight: 8, arbitrary: fc.constant('tools/call') },
        {
          weight: 1,
          arbitrary: fc.constantFrom('TOOLS/CALL', 'Tools/Call', 'tools/call ', 'tools/call\u0000'),
        },
      ),
      methodHeader: fc.oneof(
        { weight: 8, arbitrary: fc.constant<string | null>(null) },
        { weight: 1, arbitrary: fc.constantFrom('tools/call', 'TOOLS/CALL', ' tools/call ') },
      ),
      /**
       * How the body carries the name: once, after or before a decoy, on a prototype; or in a
       * notification (no id), which runs nothing.
       */
      shape: fc.constantFrom(
        'plain',
        'plain',
        'plain',
        'decoy first',
        'add last',
        '__proto__',
        'notification',
      ),
      meta: fc.oneof(
        { weight: 6, arbitrary: fc.constant<Record<string, unknown>>({}) },
        {
          weight: 1,
          arbitrary: fc.constantFrom<Record<string, unknown>>(
            { 'io.modelcontextprotocol/name': 'add' },
            { name: 'add', scopes: ['math:use'] },
            { [CAPS]: { experimental: { scopes: ['math:use'] } } },
            { [LEVEL]: 'debug' },
            { progressToken: 'p' },
          ),
        },
      ),
      extraParams: fc.constantFrom<Record<string, unknown>>(
        {},
        {},
        {},
        { scopes: ['math:use'] },
        { tool: 'add' },
        { tools: ['add'] },
      ),
    });

    let none: TenantWithKey;
    let allowList: { slug: string; key: string };
    let switchedOff: TenantWithKey;

    beforeAll(async () => {
      none = await p.admin.tenantWithKey([]);
      const k = await p.admin.createKey(none.slug, {
        name: 'allow-list',
        scopes: ['math:use'],
        tools: ['whoami', 'subtract'],
      });
      allowList = { slug: none.slug, key: k.secret };
      switchedOff = await p.admin.tenantWithKey(['math:use']);
      await p.admin.setTool(switchedOff.slug, 'add', false);
    });

    type ScopeCase = typeof scopeCase extends fc.Arbitrary<infer T> ? T : never;
    /** A fixed case of the property below: a plain, well-formed tools/call of add, and `over`. */
    const example = (over: Partial<ScopeCase>) =>
      [
        {
          apiKeyHeader: false,
          bodyName: 'add',
          namePlan: 'same',
          method: 'tools/call',
          methodHeader: null,
          shape: 'plain',
          meta: {},
          extraParams: {},
          ...over,
        },
      ] as [ScopeCase];

    it(
      'no body name, Mcp-Name, case, whitespace or look-alike runs add for a key that may not',
      async () => {
        await fc.assert(
          fc.asyncProperty(scopeCase, async (c) => {
            const sender =
              c.who === 'no scopes' ? none : c.who === 'add switched off' ? switchedOff : allowList;
            const { headers: standard, body } = modernRequest(
              c.method,
              { name: c.bodyName, arguments: { a: 40, b: 2 }, ...c.extraParams },
              { meta: c.meta },
            );
            const headers: Record<string, string | string[]> = {
              ...standard,
              ...authOf(sender.key, c.apiKeyHeader),
            };
            delete headers['Mcp-Name'];
            headers['Mcp-Method'] = c.methodHeader ?? sendable(c.method);
            const plan = c.namePlan;
            if (plan === 'same') headers['Mcp-Name'] = nameHeaderFor(c.bodyName);
            else if (plan === 'base64') headers['Mcp-Name'] = base64Form(c.bodyName);
            else if (plan === 'twice') headers['Mcp-Name'] = ['add', nameHeaderFor(c.bodyName)];
            else if (plan !== 'absent') headers['Mcp-Name'] = plan.value;
            let text = JSON.stringify(
              c.shape === 'notification' ? { ...body, id: undefined } : body,
            );
            const name = JSON.stringify(c.bodyName);
            // (A function as the replacement: a name may hold `$&` and the like.)
            const reshape = (to: string) => (text = text.replace(`"name":${name}`, () => to));
            if (c.shape === 'decoy first') reshape(`"name":"whoami","name":${name}`);
            else if (c.shape === 'add last') reshape(`"name":${name},"name":"add"`);
            else if (c.shape === '__proto__') {
              reshape(`"__proto__":{"name":"add","arguments":{"a":40,"b":2}},"name":${name}`);
            }
            const res = await post(sender.slug, headers, text);
            const what = describeSent(headers, text);
            expectWellAnswered(res, sender.key, what);
            for (const m of res.messages) {
              if (m.result?.structuredContent?.result !== undefined) {
                throw new Error(`add ran: ${what} answered ${res.text.slice(0, 300)}`);
              }
            }
            expect({ what, ran: /"result\\?":\s*42\b/.test(res.text) }).toEqual({
              what,
              ran: false,
            });
          }),
          {
            numRuns: RUNS,
            examples: [
              // The Base64 form of the header, which the SDK decodes.
              example({ who: 'no scopes', namePlan: 'base64' }),
              // A lying header naming a tool the key may call.
              example({
                who: 'allow-list without add',
                apiKeyHeader: true,
                namePlan: { value: 'whoami' },
              }),
              // The plain call, so that each sender's attempts surely reach the policy itself.
              example({ who: 'add switched off' }),
              // A decoy name the header agrees with, and add as the name JSON.parse keeps.
              example({ who: 'add switched off', bodyName: 'whoami', shape: 'add last' }),
            ],
          },
        );

        // Audit events are written in batches: a marker call after all of them shows when the
        // log holds every call made above.
        for (const t of [none, switchedOff]) {
          const requestId = newRequestId('marker');
          const marker = await modernPost(p, t.slug, bearer(t.key), {
            method: 'tools/call',
            params: { name: 'whoami', arguments: {} },
            headers: { 'X-Request-Id': requestId },
          });
          expect(marker.status).toBe(200);
          await waitForRequest(p, t.slug, requestId);
          const calls = await allAudit(p, t.slug, { action: 'tool.call' });
          const ranAdd = calls.filter((e) => e.tool === 'add' && e.outcome === 'ok');
          expect({ tenant: t.slug, ranAdd }).toEqual({ tenant: t.slug, ranAdd: [] });
          // The battery reached the policy (and was refused by it), not only the header checks.
          expect(calls.some((e) => e.tool === 'add' && e.outcome === 'denied')).toBe(true);
        }
      },
      PROPERTY_TIMEOUT,
    );
  });

  describe('a flood of listen streams', () => {
    it('is capped per credential with a 429 JSON-RPC error; other keys, calls and later listens go on', async () => {
      const t = await p.admin.tenantWithKey(['math:use']);
      const other = await p.admin.createKey(t.slug, { name: 'other', scopes: ['math:use'] });
      const streams: Awaited<ReturnType<typeof openListen>>[] = [];
      const listenOnce = () =>
        modernPost(p, t.slug, bearer(t.key), {
          method: 'subscriptions/listen',
          params: { notifications: { toolsListChanged: true } },
          timeoutMs: 3_000,
        });
      try {
        for (let i = 0; i < 64; i++) {
          const s = await openListen(p, t.slug, bearer(t.key));
          streams.push(s);
          if (s.status !== 200) break;
          await pollFor('the acknowledgement', () => s.messages[0]);
        }
        const open = streams.filter((s) => s.status === 200);
        expect(streams.at(-1)?.status).toBe(429);
        expect(open.length).toBeGreaterThan(0);
        // The refusal is an answer a client can act on, and no stream is left behind by it.
        const refusal = await listenOnce();
        expect(refusal.status).toBe(429);
        expect(refusal.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(final(refusal.messages)?.error).toEqual(
          expect.objectContaining({ code: expect.any(Number), message: expect.any(String) }),
        );
        expectWellAnswered(refusal, t.key, 'a listen over the cap');
        // Another key of the tenant listens, and the capped key still calls.
        const theirs = await openListen(p, t.slug, bearer(other.secret));
        streams.push(theirs);
        expect(theirs.status).toBe(200);
        await expectStillServes(t);
        // Closing one frees its place.
        open[0].close();
        await open[0].ended;
        const again = await pollUntilOpen(() => openListen(p, t.slug, bearer(t.key)), streams);
        expect(again.status).toBe(200);
      } finally {
        for (const s of streams) s.close();
      }
    });
  });

  describe('tenants stay apart on the modern arm', () => {
    let a: TenantWithKey;
    let b: TenantWithKey;

    beforeAll(async () => {
      a = await p.admin.tenantWithKey(['math:use']);
      b = await p.admin.tenantWithKey(['math:use']);
    });

    it('a key of tenant A is a 401 on tenant B, whatever it asks and however it is sent', async () => {
      const largest = p.app.get(ToolRegistry).largestArgumentBytes();
      const calls: [string, { headers: Record<string, string>; body: unknown }][] = [
        ['tools/list', modernRequest('tools/list')],
        ['server/discover', modernRequest('server/discover')],
        ['tools/call whoami', modernRequest('tools/call', { name: 'whoami', arguments: {} })],
        ['tools/call add', modernRequest('tools/call', { name: 'add', arguments: { a: 1, b: 2 } })],
        ['resources/read', modernRequest('resources/read', { uri: 'test://x' })],
        ['a bad envelope', modernRequest('tools/list', {}, { meta: { [CAPS]: 'x', [PV]: 5 } })],
        [
          'a tenant named in the envelope',
          modernRequest('tools/list', {}, { meta: { tenant: a.slug, slug: a.slug } }),
        ],
        [
          'a batch',
          {
            headers: modernRequest('tools/list').headers,
            body: [modernRequest('tools/list').body],
          },
        ],
        [
          'a body over every limit',
          modernRequest('tools/call', {
            name: 'echo',
            arguments: { text: 'x', pad: 'x'.repeat(largest + 1) },
          }),
        ],
      ];
      for (const [what, { headers, body }] of calls) {
        for (const apiKeyHeader of [false, true]) {
          const res = await post(
            b.slug,
            { ...headers, ...authOf(a.key, apiKeyHeader) },
            JSON.stringify(body),
          );
          const label = `${what}${apiKeyHeader ? ' (X-API-Key)' : ''}`;
          expect({ label, status: res.status }).toEqual({ label, status: 401 });
          expectErrorBody(401, res.json, label);
          expect(res.headers.get('www-authenticate')).toContain(
            `resource_metadata="${resourceMetadataUrl(p, b.slug)}"`,
          );
          expect(res.text).not.toContain(a.key);
          expect(res.text).not.toContain(a.slug);
          expect(res.text).not.toContain('"result"');
        }
      }
      const listen = await openListen(p, b.slug, bearer(a.key));
      listen.close();
      expect(listen.status).toBe(401);
      // Both keys still work at home.
      await expectStillServes(a);
      await expectStillServes(b, true);
    });

    it('a listen stream on A hears nothing of B’s grants, keys, posture or suspension', async () => {
      const listen = await openListen(p, a.slug, bearer(a.key));
      try {
        expect(listen.status).toBe(200);
        await pollFor('the acknowledgement', () => listen.messages[0]);
        const other = await p.admin.createKey(b.slug, { name: 'doomed' });
        await p.admin.setTool(b.slug, 'subtract', false);
        await p.admin.revokeKey(b.slug, other.id);
        await p.admin.patchTenant(b.slug, { protocol: 'modern-only' });
        await p.admin.patchTenant(b.slug, { status: 'suspended' });
        await sleep(300);
        expect(listen.messages.map((m) => m.method)).toEqual([
          'notifications/subscriptions/acknowledged',
        ]);
        const ended = await Promise.race([listen.ended.then(() => 'ended'), sleep(50)]);
        expect(ended).toBeUndefined();
        // The stream is alive: a change of its own tenant reaches it.
        await p.admin.setTool(a.slug, 'subtract', false);
        await pollFor('list_changed on A', () =>
          listen.messages.find((m) => m.method === 'notifications/tools/list_changed'),
        );
      } finally {
        listen.close();
      }
    });
  });

  describe('oversized requests and batches', () => {
    let t: TenantWithKey;
    let largest: number;
    let addLimit: number;

    beforeAll(async () => {
      t = await p.admin.tenantWithKey(['math:use']);
      const registry = p.app.get(ToolRegistry);
      largest = registry.largestArgumentBytes();
      addLimit = registry.get('add')!.limits.maxBytes;
      expect(addLimit).toBeLessThan(largest);
    });

    /** A modern tools/call of `name` whose body is `bytes` long, give or take a few hundred. */
    const callOf = (name: string, bytes: number, nameHeader = name) => {
      const { headers, body } = modernRequest('tools/call', {
        name,
        arguments: { a: 1, b: 2, text: 'x', pad: 'x'.repeat(bytes) },
      });
      return {
        headers: { ...headers, 'Mcp-Name': nameHeader, ...bearer(t.key) },
        body: JSON.stringify(body),
      };
    };

    it('a tools/call over the largest tool-argument limit is a 413 before parsing, however it is sent', async () => {
      const tooBig = new RegExp(`no request may take more than ${largest} bytes`);
      for (const name of ['echo', 'add', 'no_such_tool']) {
        const { headers, body } = callOf(name, largest + 1);
        const plain = await post(t.slug, headers, body);
        expect({ name, status: plain.status }).toEqual({ name, status: 413 });
        expect(plain.messages[0]?.error).toMatchObject({
          code: -32602,
          message: expect.stringMatching(tooBig),
        });
        // The same body as a gzip stream of a few kilobytes: judged by what it inflates to.
        const gzipped = await post(
          t.slug,
          { ...headers, 'Content-Encoding': 'gzip' },
          gzipSync(body),
        );
        expect({ name, status: gzipped.status }).toEqual({ name, status: 413 });
        // Chunked, with no Content-Length to refuse it by.
        const bytes = Buffer.from(body);
        let offset = 0;
        const chunked = await fetch(`${p.url}/t/${t.slug}/mcp`, {
          method: 'POST',
          headers,
          duplex: 'half',
          body: new ReadableStream<Uint8Array>({
            pull(controller) {
              if (offset >= bytes.length) {
                controller.close();
                return;
              }
              controller.enqueue(bytes.subarray(offset, offset + 65_536));
              offset += 65_536;
            },
          }),
        });
        expect({ name, status: chunked.status }).toEqual({ name, status: 413 });
        expect(await chunked.text()).not.toContain('"result"');
      }
      await expectStillServes(t);
    });

    it('a tools/call over its own tool’s limit is a 413 naming that limit, and add does not run', async () => {
      for (const header of ['add', ' add ', '\tadd']) {
        const { headers, body } = callOf('add', addLimit + 1, header);
        expect(body.length).toBeLessThan(largest);
        const res = await post(t.slug, headers, body);
        expect({ header, status: res.status }).toEqual({ header, status: 413 });
        expect(res.messages[0]?.error?.message).toMatch(
          new RegExp(`a tools/call of add may take at most ${addLimit} bytes`),
        );
        expect(res.text).not.toContain('"result"');
      }
      await expectStillServes(t);
    });

    // The SDK accepts an Mcp-Name in the SEP-2243 Base64 form; a pre-check that compared the raw
    // header with params.name was skipped by it (a 300 KB add ran; a key without the scope got a
    // JSON-RPC error instead of the step-up challenge).
    it('an Mcp-Name in its Base64 form gets the same 413 over the tool’s own limit', async () => {
      const { headers, body } = callOf('add', addLimit + 1, base64Form('add'));
      const res = await post(t.slug, headers, body);
      expect({ status: res.status, error: res.messages[0]?.error?.message }).toEqual({
        status: 413,
        error: expect.stringMatching(
          new RegExp(`a tools/call of add may take at most ${addLimit} bytes`),
        ),
      });
      expect(res.text).not.toContain('"structuredContent"');
    });

    it('an Mcp-Name in its Base64 form gets the same 403 step-up challenge as the plain one', async () => {
      const u = await p.admin.tenantWithKey([]);
      const answers = [];
      for (const header of ['add', base64Form('add')]) {
        const res = await modernPost(p, u.slug, bearer(u.key), {
          method: 'tools/call',
          params: { name: 'add', arguments: { a: 1, b: 2 } },
          headers: { 'Mcp-Name': header },
        });
        answers.push({
          status: res.status,
          challenge: res.headers.get('www-authenticate')?.includes('error="insufficient_scope"'),
        });
      }
      expect(answers).toEqual([
        { status: 403, challenge: true },
        { status: 403, challenge: true },
      ]);
    });

    it('a JSON-RPC batch carrying envelopes is a 4xx JSON-RPC error, on every posture, and runs nothing', async () => {
      const dual = await p.admin.tenantWithKey(['math:use']);
      const modernOnly = await p.admin.tenantWithKey(['math:use']);
      await p.admin.patchTenant(modernOnly.slug, { protocol: 'modern-only' });
      const legacyOnly = await p.admin.tenantWithKey(['math:use']);
      await p.admin.patchTenant(legacyOnly.slug, { protocol: 'legacy-only' });
      const add = () =>
        modernRequest('tools/call', { name: 'add', arguments: { a: 40, b: 2 } }).body;
      const list = () => modernRequest('tools/list').body;
      const notification = {
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: 1, _meta: envelope() },
      };
      const batches: [string, unknown][] = [
        ['one enveloped call', [add()]],
        ['two enveloped calls', [add(), add()]],
        ['200 enveloped requests', Array.from({ length: 200 }, list)],
        ['an enveloped notification', [notification]],
        [
          'an enveloped call after a 2025 one',
          [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, add()],
        ],
        [
          'an enveloped call after initialize',
          [{ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }, add()],
        ],
        ['a nested batch', [[add()]]],
        ['an empty batch', []],
      ];
      for (const tenant of [dual, modernOnly, legacyOnly]) {
        for (const [what, batch] of batches) {
          const { headers } = modernRequest('tools/call', { name: 'add' });
          const res = await post(
            tenant.slug,
            { ...headers, ...bearer(tenant.key) },
            JSON.stringify(batch),
          );
          const label = `${what} on ${tenant.slug}`;
          expect({ label, status: isClientError(res.status) }).toEqual({ label, status: true });
          expect({ label, code: final(res.messages)?.error?.code }).toEqual({
            label,
            code: expect.any(Number),
          });
          expect(res.text).not.toContain('"result"');
        }
      }
      // A batch over the largest limit is refused from its size.
      const big = await post(
        dual.slug,
        { ...modernRequest('tools/list').headers, ...bearer(dual.key) },
        JSON.stringify([modernRequest('tools/list', { pad: 'x'.repeat(largest) }).body]),
      );
      expect(big.status).toBe(413);
      // None of the batched adds ran, on any of the tenants.
      // (Audit events are written in batches: once a later marker is in, so is all before it.)
      const requestId = newRequestId('marker');
      await modernPost(p, dual.slug, bearer(dual.key), {
        method: 'tools/call',
        params: { name: 'whoami', arguments: {} },
        headers: { 'X-Request-Id': requestId },
      });
      await waitForRequest(p, dual.slug, requestId);
      for (const tenant of [dual, modernOnly, legacyOnly]) {
        const calls = await allAudit(p, tenant.slug, { action: 'tool.call', tool: 'add' });
        expect({ tenant: tenant.slug, calls }).toEqual({ tenant: tenant.slug, calls: [] });
      }
    });
  });

  describe('refusals carry no credential and no internals', () => {
    it('each refusal path of the modern arm, with either credential header', async () => {
      const t = await p.admin.tenantWithKey([]);
      const cases: [string, Parameters<typeof modernRequest>][] = [
        ['bad protocolVersion', ['tools/list', {}, { meta: { [PV]: 5 } }]],
        [
          'unsupported version',
          [
            'tools/list',
            {},
            { meta: { [PV]: '2099-01-01' }, headers: { 'MCP-Protocol-Version': '2099-01-01' } },
          ],
        ],
        ['bad capabilities', ['tools/list', {}, { meta: { [CAPS]: [] } }]],
        ['bad clientInfo', ['tools/list', {}, { meta: { [INFO]: { name: 5 } } }]],
        ['bad logLevel', ['tools/list', {}, { meta: { [LEVEL]: 'loud' } }]],
        [
          'header/body method mismatch',
          ['tools/list', {}, { headers: { 'Mcp-Method': 'tools/call' } }],
        ],
        ['name mismatch', ['tools/call', { name: 'echo' }, { headers: { 'Mcp-Name': 'whoami' } }]],
        [
          'bad Base64 name',
          ['tools/call', { name: 'echo' }, { headers: { 'Mcp-Name': '=?base64?!!?=' } }],
        ],
        [
          'missing version header',
          ['tools/list', {}, { headers: { 'MCP-Protocol-Version': undefined } }],
        ],
        ['unknown method', ['tools/frobnicate']],
        ['unknown tool', ['tools/call', { name: 'no_such_tool', arguments: {} }]],
        ['scope step-up', ['tools/call', { name: 'add', arguments: { a: 1, b: 2 } }]],
        ['bad arguments', ['tools/call', { name: 'echo', arguments: 'x' }]],
        ['bad cursor', ['tools/list', { cursor: { a: 1 } }]],
        ['unknown resource', ['resources/read', { uri: 'file:///etc/passwd' }]],
        ['a session id', ['tools/list', {}, { headers: { 'Mcp-Session-Id': 'x' } }]],
      ];
      for (const [what, args] of cases) {
        const { headers, body } = modernRequest(...args);
        for (const apiKeyHeader of [false, true]) {
          const res = await post(
            t.slug,
            { ...headers, ...authOf(t.key, apiKeyHeader) },
            JSON.stringify(body),
          );
          expectWellAnswered(res, t.key, `${what}${apiKeyHeader ? ' (X-API-Key)' : ''}`);
          expect({ what, refused: res.status >= 400 || !!final(res.messages)?.error }).toEqual({
            what,
            refused: true,
          });
        }
      }
    });
  });
});

/** Polls `check` until it returns something (5 s at most). */
async function pollFor<T>(what: string, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within 5 s`);
    await sleep(25);
  }
}

/** Opens listen streams (each kept in `streams`) until one is let in (5 s at most). */
async function pollUntilOpen(
  open: () => ReturnType<typeof openListen>,
  streams: Awaited<ReturnType<typeof openListen>>[],
): Promise<Awaited<ReturnType<typeof openListen>>> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const s = await open();
    streams.push(s);
    if (s.status === 200 || Date.now() > deadline) return s;
    await sleep(25);
  }
}
