import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { authSecret, startAuthService, useAuthService } from './support/auth-service';
import { http } from './support/http';
import {
  expectAccepted,
  expectBearerRefused,
  initWithToken,
  rawSocketRequest,
  tenantWithAuth,
} from './support/hostile';
import { controlChar, hostileString, UNICODE_STRINGS } from './support/hostile-arbitraries';
import { initializeRequest, MCP_POST_HEADERS, rawPost } from './support/mcp';
import { startOidcProvider, useOidcProvider } from './support/oidc-provider';
import { usePlatform } from './support/platform';

/** Runs per property: every generator branch, in a file that stays quick. */
const RUNS = 50;
const PROPERTY_TIMEOUT = 120_000;

type Tenant = { slug: string; id: string; aud: string };
type Header = [name: string, value: string];

const b64url = (n: number) => randomBytes(n).toString('base64url');
const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

const b64segment = (maxLength: number) =>
  fc.base64String({ maxLength }).map((s) => s.replace(/[+/=]/g, ''));

/** Bearer tokens shaped like a JWS: three base64url segments, a real-looking header or not. */
const jwtShapedToken: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      fc.constant(Buffer.from('{"alg":"RS256","typ":"at+jwt","kid":"x"}').toString('base64url')),
      fc.constant(Buffer.from('{"alg":"none"}').toString('base64url')),
      fc.constant(Buffer.from('{"alg":"HS256"}').toString('base64url')),
      b64segment(60),
    ),
    b64segment(400),
    b64segment(400),
  )
  .map(([h, p, s]) => `${h}.${p}.${s}`);

/** Bearer tokens of every other shape the guard sorts by: API keys, opaque handles, nonsense. */
const otherToken: fc.Arbitrary<string> = fc.oneof(
  // API-key shaped: mcp_<12>_<38+>, right or wrong lengths.
  fc
    .tuple(
      fc.string({ unit: fc.constantFrom(...alnum), minLength: 0, maxLength: 14 }),
      fc.string({ unit: fc.constantFrom(...alnum), minLength: 0, maxLength: 60 }),
    )
    .map(([id, secret]) => `mcp_${id}_${secret}`),
  // Opaque, like oidc-provider's and other servers' handles.
  fc.base64String({ minLength: 1, maxLength: 100 }).map((s) => s.replace(/[+/=]/g, '') || 'x'),
  fc.stringMatching(/^[0-9a-f]{16,128}$/),
  fc.uuid(),
  // Form-encoding tricks for the introspection request body.
  fc.constantFrom(
    'a&token=b',
    'x%26token%3Dy',
    'token=',
    '%',
    '+++',
    '=',
    '&',
    'a&client_id=mcp-platform',
  ),
  // Long ones.
  fc.integer({ min: 1_000, max: 8_000 }).map((n) => b64url(n).slice(0, n)),
  // Anything without whitespace that an Authorization header can carry.
  fc.string({ unit: fc.constantFrom(...'!#$%&\'*+-.^_`|~/=:;<>?@[]{}(),"'), minLength: 1 }),
);

/** A bearer token of any shape. */
const hostileToken: fc.Arbitrary<string> = fc.oneof(jwtShapedToken, otherToken);

/** A header value as a hostile client writes it on the wire (raw bytes, CR and LF included). */
const hostileHeaderValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: hostileString.filter((s) => s.length < 12_000) },
  { weight: 2, arbitrary: fc.constantFrom(...UNICODE_STRINGS) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 10 }), controlChar, fc.string({ maxLength: 10 }))
      .map(([a, c, b]) => `${a}${c}${b}`),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'alice\r\nX-Pass: guess',
      'alice\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x',
      'alice\nX-Pass: guess',
      'alice\rX-Pass: guess',
      ' alice ',
      'alice, bob',
      'alice\u0000',
      '\u00e9\u00fc',
      'x'.repeat(4097),
      'x'.repeat(15_000),
    ),
  },
  { weight: 1, arbitrary: fc.constant('') },
);

describe('hostile credentials against the introspection and external authenticators', () => {
  const p = usePlatform();
  const op = useOidcProvider();
  const alicePass = authSecret();
  const svc = useAuthService({ users: { alice: { pass: alicePass, scopes: ['math:use'] } } });

  /** External only; introspection only; and every authenticator at once. */
  let ext: Tenant;
  let intro: Tenant;
  let all: Tenant;
  beforeAll(async () => {
    const external = { url: svc.url, headers: svc.headerNames };
    ext = await tenantWithAuth(p, { external }, 'hx-ext');
    intro = await tenantWithAuth(p, { introspection: op.introspectionSettings() }, 'hx-intro');
    all = await tenantWithAuth(
      p,
      { jwt: { issuer: op.issuer }, introspection: op.introspectionSettings(), external },
      'hx-all',
    );
  });

  /** An initialize POST written to the socket as is, with `headers` after the usual ones. */
  const raw = (tenant: Tenant, headers: Header[]) => {
    const body = JSON.stringify(initializeRequest());
    const host = new URL(p.url).host;
    const head =
      `POST /t/${tenant.slug}/mcp HTTP/1.1\r\nHost: ${host}\r\n` +
      `Content-Type: application/json\r\nAccept: ${MCP_POST_HEADERS.Accept}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n` +
      headers.map(([k, v]) => `${k}: ${v}\r\n`).join('') +
      '\r\n';
    return rawSocketRequest(p.url, head, body);
  };

  /** Refused as a client error: never a 2xx, never a 5xx, never a session, never a second answer. */
  const expectRefusedRaw = (
    what: string,
    res: { status: number; text: string },
    opts: { mayDrop?: boolean } = {},
  ) => {
    // A request far beyond the server's header limit may be dropped before any answer is read.
    if (opts.mayDrop && res.status === 0) return;
    const statuses = [...res.text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
    expect({
      what,
      status: res.status,
      clientError: res.status >= 400 && res.status < 500,
    }).toEqual({
      what,
      status: res.status,
      clientError: true,
    });
    expect({ what, answers: statuses.filter((s) => s < 400 || s >= 500) }).toEqual({
      what,
      answers: [],
    });
    expect(res.text.toLowerCase()).not.toContain('mcp-session-id:');
  };

  /** The platform still serves every kind of credential: nothing crashed. */
  const stillServing = async () => {
    expectAccepted(await rawPost(p, ext.slug, initializeRequest(), svc.headersFor('alice')));
    const token = await op.token({ resource: intro.aud, format: 'opaque' });
    expectAccepted(await initWithToken(p, intro.slug, token));
    const jwt = await op.token({ resource: all.aud, format: 'jwt' });
    expectAccepted(await initWithToken(p, all.slug, jwt));
  };

  const describeHeaders = (headers: Header[]) =>
    JSON.stringify(
      headers.map(([k, v]) => [k, v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v]),
    );

  describe('property: hostile header credentials', () => {
    it(
      'X-User / X-Pass of any content on the external tenant: a client error, never 2xx or 5xx',
      async () => {
        const asked = svc.callCount;
        await fc.assert(
          fc.asyncProperty(
            fc.option(hostileHeaderValue, { nil: undefined }),
            fc.option(hostileHeaderValue, { nil: undefined }),
            fc.boolean(),
            async (user, pass, realUser) => {
              const headers: Header[] = [];
              if (user !== undefined || realUser)
                headers.push(['X-User', realUser ? 'alice' : user!]);
              if (pass !== undefined) headers.push(['X-Pass', pass]);
              expectRefusedRaw(describeHeaders(headers), await raw(ext, headers));
            },
          ),
          { numRuns: RUNS },
        );
        // Not every value was stopped by the HTTP parser: the service was asked about some.
        expect(svc.callCount).toBeGreaterThan(asked);
        await stillServing();
      },
      PROPERTY_TIMEOUT,
    );

    /** Every token of `tokens` on the introspection-only tenant: 401 (the header is well-formed). */
    const onIntrospectionTenant = async (tokens: fc.Arbitrary<string>) => {
      const asked = op.count('/token/introspection');
      await fc.assert(
        fc.asyncProperty(tokens, async (token) => {
          const res = await raw(intro, [['Authorization', `Bearer ${token}`]]);
          expectRefusedRaw(token.slice(0, 80), res);
          expect({ token: token.slice(0, 80), status: res.status }).toEqual({
            token: token.slice(0, 80),
            status: 401,
          });
        }),
        { numRuns: RUNS },
      );
      // The provider was asked about them: the refusals are its answers, not a parser's.
      expect(op.count('/token/introspection')).toBeGreaterThan(asked);
      await stillServing();
    };

    it(
      'bearer tokens shaped like API keys and opaque handles, on the introspection tenant: 401',
      () => onIntrospectionTenant(otherToken),
      PROPERTY_TIMEOUT,
    );

    it(
      'bearer tokens shaped like JWTs, on the introspection tenant (the provider will not introspect them): 401',
      () => onIntrospectionTenant(jwtShapedToken),
      PROPERTY_TIMEOUT,
    );

    it(
      'any mix of Authorization, X-API-Key, X-User and X-Pass on the tenant with every authenticator',
      async () => {
        const value = fc.oneof(hostileToken, hostileHeaderValue);
        await fc.assert(
          fc.asyncProperty(
            fc.record(
              {
                authorization: fc.oneof(
                  hostileToken.map((t) => `Bearer ${t}`),
                  fc.constantFrom('Bearer', 'Bearer ', 'Basic YWxpY2U6eA==', 'bearer  x y'),
                  hostileHeaderValue,
                ),
                apiKey: value,
                user: fc.oneof(fc.constant('alice'), hostileHeaderValue),
                pass: hostileHeaderValue,
              },
              { requiredKeys: [] },
            ),
            async (r) => {
              const headers: Header[] = [];
              if (r.authorization !== undefined) headers.push(['Authorization', r.authorization]);
              if (r.apiKey !== undefined) headers.push(['X-API-Key', r.apiKey]);
              if (r.user !== undefined) headers.push(['X-User', r.user]);
              if (r.pass !== undefined) headers.push(['X-Pass', r.pass]);
              expectRefusedRaw(describeHeaders(headers), await raw(all, headers));
            },
          ),
          { numRuns: RUNS },
        );
        await stillServing();
      },
      PROPERTY_TIMEOUT,
    );
  });

  describe('shapes a client may send', () => {
    it('CRLF in a credential header does not smuggle a header or a request', async () => {
      const cases: Header[][] = [
        [['X-User', `alice\r\nX-Pass: ${alicePass}x`]],
        [['X-User', 'alice\r\n\r\nPOST /admin/tenants HTTP/1.1\r\nHost: x\r\nContent-Length: 0']],
        [
          ['X-User', 'alice'],
          ['X-Pass', `wrong\r\nAuthorization: Bearer x`],
        ],
        [['X-User', 'alice\nX-Pass: x']],
        [['Authorization', 'Bearer abc\r\nX-User: alice']],
      ];
      for (const headers of cases) {
        for (const tenant of [ext, all]) {
          expectRefusedRaw(describeHeaders(headers), await raw(tenant, headers));
        }
      }
      await stillServing();
    });

    it('a configured header sent twice is refused, whichever copy is right', async () => {
      const wrong = authSecret();
      const cases: Array<Record<string, string | string[]>> = [
        { 'X-User': 'alice', 'X-Pass': [alicePass, wrong] },
        { 'X-User': 'alice', 'X-Pass': [wrong, alicePass] },
        { 'X-User': ['mallory', 'alice'], 'X-Pass': alicePass },
        { 'X-User': ['alice', 'mallory'], 'X-Pass': alicePass },
      ];
      for (const headers of cases) {
        for (const tenant of [ext, all]) {
          const res = await http(p.url, {
            method: 'POST',
            path: `/t/${tenant.slug}/mcp`,
            headers: { ...MCP_POST_HEADERS, ...headers },
            body: JSON.stringify(initializeRequest()),
          });
          expect({ headers, status: res.status }).toEqual({ headers, status: 401 });
          expect(res.headers.get('mcp-session-id')).toBeNull();
        }
      }
    });

    it('oversized credential header values: a client error, never a 5xx', async () => {
      for (const n of [4_096, 4_097, 8_192, 14_000, 20_000, 70_000]) {
        const big = 'p'.repeat(n);
        for (const [tenant, headers] of [
          [
            ext,
            [
              ['X-User', 'alice'],
              ['X-Pass', big],
            ],
          ],
          [
            ext,
            [
              ['X-User', big],
              ['X-Pass', alicePass],
            ],
          ],
          [intro, [['Authorization', `Bearer ${big}`]]],
          [
            all,
            [
              ['Authorization', `Bearer ${big}`],
              ['X-User', big],
              ['X-Pass', big],
            ],
          ],
        ] as Array<[Tenant, Header[]]>) {
          const res = await raw(tenant, headers);
          expectRefusedRaw(`${tenant.slug} ${n}`, res, { mayDrop: n > 16_000 });
        }
      }
      await stillServing();
    });

    it('many headers around valid credentials do not hide them; around invalid ones nothing is let in', async () => {
      const noise: Header[] = Array.from({ length: 150 }, (_, i) => [`X-Noise-${i}`, b64url(8)]);
      const valid = await raw(ext, [...noise, ['X-User', 'alice'], ['X-Pass', alicePass]]);
      expect(valid.status).toBe(200);
      const invalid = await raw(ext, [...noise, ['X-User', 'alice'], ['X-Pass', authSecret()]]);
      expectRefusedRaw('noise + wrong password', invalid);
      const lookalikes: Header[] = [
        ['X-User-', 'alice'],
        ['X-Pass2', alicePass],
        ['X_User', 'alice'],
        ['XUser', 'alice'],
      ];
      expectRefusedRaw('look-alike header names', await raw(ext, lookalikes));
    });

    it('unicode in header values, as UTF-8 bytes: a client error', async () => {
      for (const value of UNICODE_STRINGS) {
        expectRefusedRaw(
          value,
          await raw(ext, [
            ['X-User', value],
            ['X-Pass', value],
          ]),
        );
        expectRefusedRaw(value, await raw(intro, [['Authorization', `Bearer ${value}`]]));
      }
      await stillServing();
    });

    it('a real provider JWT on a tenant with introspection only is refused, not an outage', async () => {
      const jwt = await op.token({ resource: intro.aud, format: 'jwt' });
      const res = await initWithToken(p, intro.slug, jwt);
      expectBearerRefused(p, intro.slug, res, /./);
    });
  });

  describe('when the checking service is down', () => {
    it(
      'hostile credentials get a client error or the documented 503, never another 5xx',
      async () => {
        const downSvc = await startAuthService();
        const dead = await startOidcProvider();
        const external = { url: downSvc.url, headers: ['X-User', 'X-Pass'] };
        const tenant = await tenantWithAuth(
          p,
          { introspection: dead.introspectionSettings(), external },
          'hx-down',
        );
        await dead.stop();
        await downSvc.stop();
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              hostileToken.map((t): Header[] => [['Authorization', `Bearer ${t}`]]),
              fc.tuple(hostileHeaderValue, hostileHeaderValue).map(([u, pw]): Header[] => [
                ['X-User', u],
                ['X-Pass', pw],
              ]),
            ),
            async (headers) => {
              const res = await raw(tenant, headers);
              const ok = (res.status >= 400 && res.status < 500) || res.status === 503;
              expect({ headers: describeHeaders(headers), status: res.status, ok }).toEqual({
                headers: describeHeaders(headers),
                status: res.status,
                ok: true,
              });
              if (res.status === 503) expect(res.text).toMatch(/\r\nretry-after: \d+\r\n/i);
            },
          ),
          { numRuns: RUNS },
        );
        await stillServing();
      },
      PROPERTY_TIMEOUT,
    );
  });
});
