import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import type { Request } from 'express';
import { loadConfig } from '@app/config';
import { EgressPolicy } from '@app/egress';
import { Tenant, type TenantAuthSettings, type TenantJwtSettings } from '@app/tenancy';
import type { Jose } from '../esm';
import { IssuerMetadata } from '../issuer-metadata';
import { JwksCache } from '../jwks-cache';
import { CredentialRefused } from '../refusal';
import type { AuthAttempt } from './authenticator';
import { JwtAuthenticator } from './jwt.authenticator';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A loopback identity provider: JWKS at /jwks.json, its OIDC document at the well-known path. */
interface IdentityProvider {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly routes: Map<string, Handler>;
  readonly seen: string[];
}

const OIDC = '/.well-known/openid-configuration';
const PUBLIC_URL = 'https://mcp.example.com';
const RESOURCE = `${PUBLIC_URL}/t/acme/mcp`;
const ALL_ALGORITHMS = 'RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512';

const cleanups: (() => Promise<unknown>)[] = [];

const json =
  (body: unknown): Handler =>
  (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  };

async function identityProvider(keys: unknown[]): Promise<IdentityProvider> {
  const server: Server = createServer((req, res) => {
    state.seen.push(req.url ?? '');
    const handler = state.routes.get(req.url ?? '');
    if (handler) return handler(req, res);
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const jwksUri = `${issuer}/jwks.json`;
  const state: IdentityProvider = {
    issuer,
    jwksUri,
    routes: new Map([
      ['/jwks.json', json({ keys })],
      [OIDC, json({ issuer, jwks_uri: jwksUri })],
    ]),
    seen: [],
  };
  return state;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const jwkOf = (key: KeyObject, kid: string) => ({
  ...key.export({ format: 'jwk' }),
  kid,
  use: 'sig',
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

function tenantWith(auth: TenantAuthSettings | undefined): Tenant {
  return Object.assign(new Tenant(), {
    id: '5b0e7c4e-0000-4000-8000-000000000001',
    slug: 'acme',
    name: 'Acme',
    status: 'active',
    settings: auth ? { auth } : {},
  });
}

const attempt = (bearer: string | undefined, tenant?: Tenant): AuthAttempt => ({
  req: { headers: {} } as Request,
  bearer,
  tenant: () => Promise.resolve(tenant),
});

const INTROSPECTION = {
  endpoint: 'https://idp.example/introspect',
  clientId: 'mcp',
  clientSecretSealed: 'sealed',
};

/** Expects a CredentialRefused, and gives it back. */
async function refusal(promise: Promise<unknown>): Promise<CredentialRefused> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CredentialRefused)) {
    throw new Error(
      `expected CredentialRefused, got ${err instanceof Error ? err.stack : String(err)}`,
    );
  }
  return err;
}

describe(JwtAuthenticator.name, () => {
  let jose: typeof Jose;
  let egress: EgressPolicy;
  let idp: IdentityProvider;
  let settings: TenantJwtSettings;
  let sut: JwtAuthenticator;

  /** A token of the identity provider for the tenant's resource, valid for five minutes. */
  async function token(
    claims: Record<string, unknown> = {},
    { kid = 'k1', alg = 'RS256', key = rsa.privateKey } = {},
  ): Promise<string> {
    return new jose.SignJWT({
      iss: idp.issuer,
      aud: RESOURCE,
      sub: 'alice',
      exp: nowS() + 300,
      ...claims,
    })
      .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
      .sign(key);
  }

  const authenticate = (bearer: string, s: TenantJwtSettings = settings) =>
    sut.authenticate(attempt(bearer, tenantWith({ jwt: s })));

  /** The refusal of a token, as its user reads it. */
  async function rejection(bearer: string, s: TenantJwtSettings = settings): Promise<string> {
    const err = await refusal(authenticate(bearer, s));
    expect(err.reason).toBe('jwt_rejected');
    expect(err.getStatus()).toBe(401);
    return err.message;
  }

  beforeAll(async () => {
    jose = await import('jose');
  });

  beforeEach(async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    egress = new EgressPolicy(loadConfig({ EGRESS_ALLOW: '127.0.0.0/8' }));
    cleanups.push(() => egress.onApplicationShutdown());
    idp = await identityProvider([jwkOf(rsa.publicKey, 'k1'), jwkOf(ec.publicKey, 'e1')]);
    settings = { issuer: idp.issuer, jwksUri: idp.jwksUri };
    sut = new JwtAuthenticator(
      loadConfig({ PUBLIC_URL }),
      new JwksCache(egress),
      new IssuerMetadata(egress),
    );
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(cleanups.splice(0).map((c) => c()));
  });

  describe('accepts', () => {
    const jwt = `${b64({ alg: 'RS256' })}.${b64({ sub: 'a' })}.c2ln`;

    it.each([
      ['no tenant', undefined],
      ['a tenant without identity systems', tenantWith(undefined)],
      ['a tenant with an issuer', tenantWith({ jwt: { issuer: 'https://idp.example' } })],
      [
        'a tenant with an issuer and introspection',
        tenantWith({ jwt: { issuer: 'https://idp.example' }, introspection: INTROSPECTION }),
      ],
    ])('a JWT-shaped bearer on the route of %s', async (_what, tenant) => {
      await expect(sut.accepts(attempt(jwt, tenant))).resolves.toBe(true);
    });

    it('not a JWT-shaped bearer on a tenant with introspection and no issuer: those are opaque tokens to introspect', async () => {
      await expect(
        sut.accepts(attempt(jwt, tenantWith({ introspection: INTROSPECTION }))),
      ).resolves.toBe(false);
    });

    it.each([
      ['no bearer', undefined],
      ['an API key', 'mcp_0123456789abcdef_secretsecretsecret'],
      ['an opaque token', 'opaque-token-value'],
      ['two segments', 'abc.def'],
      ['four segments', 'a.b.c.d'],
      ['a segment outside base64url', 'a+b.c.d'],
    ])('not %s', async (_what, bearer) => {
      await expect(sut.accepts(attempt(bearer, tenantWith(undefined)))).resolves.toBe(false);
    });
  });

  describe('authenticate', () => {
    it('turns a valid token into the principal of the tenant', async () => {
      const exp = nowS() + 300;
      const principal = await authenticate(await token({ exp, scope: 'notes:read tenant:admin' }));

      expect(principal).toEqual({
        kind: 'jwt',
        id: `${idp.issuer}#alice`,
        tenantId: '5b0e7c4e-0000-4000-8000-000000000001',
        scopes: ['notes:read', 'tenant:admin'],
        tools: null,
        resources: null,
        prompts: null,
        expiresAt: exp * 1000,
      });
      expect(idp.seen).toEqual(['/jwks.json']);
    });

    it.each([
      ['scope, space-separated', { scope: 'a  b' }, undefined, ['a', 'b']],
      ['scp, an array', { scp: ['x', 'y'] }, undefined, ['x', 'y']],
      ['scope before scp', { scope: 'a', scp: ['x'] }, undefined, ['a']],
      ['neither', {}, undefined, []],
      [
        'the configured claim',
        { scope: 'ignored', permissions: ['notes:read'] },
        'permissions',
        ['notes:read'],
      ],
      [
        'the configured nested claim',
        { realm_access: { roles: ['tenant:admin'] } },
        'realm_access.roles',
        ['tenant:admin'],
      ],
    ])('reads the scopes from %s', async (_what, claims, scopesClaim, scopes) => {
      const principal = await authenticate(await token(claims), { ...settings, scopesClaim });

      expect(principal.scopes).toEqual(scopes);
    });

    it('takes a token whose audience list holds the resource', async () => {
      const principal = await authenticate(await token({ aud: ['https://other', RESOURCE] }));

      expect(principal.id).toBe(`${idp.issuer}#alice`);
    });

    it('takes a token for the configured audience instead of the resource', async () => {
      const principal = await authenticate(await token({ aud: 'api://acme' }), {
        ...settings,
        audience: 'api://acme',
      });

      expect(principal.kind).toBe('jwt');
    });

    it('takes an EC token when the tenant allows only ES256', async () => {
      const principal = await authenticate(
        await token({}, { alg: 'ES256', kid: 'e1', key: ec.privateKey }),
        { ...settings, algorithms: ['ES256'] },
      );

      expect(principal.kind).toBe('jwt');
    });

    it('takes a token without a kid when the set holds one key it fits', async () => {
      idp.routes.set('/jwks.json', json({ keys: [jwkOf(rsa.publicKey, 'k1')] }));

      const principal = await authenticate(await token({}, { kid: '' }));

      expect(principal.kind).toBe('jwt');
    });

    it('allows 30 s of clock skew on exp and nbf', async () => {
      await expect(authenticate(await token({ exp: nowS() - 20 }))).resolves.toMatchObject({
        kind: 'jwt',
      });
      await expect(authenticate(await token({ nbf: nowS() + 20 }))).resolves.toMatchObject({
        kind: 'jwt',
      });
    });

    it('finds the keys through the issuer’s discovery document when no jwksUri is configured', async () => {
      const principal = await authenticate(await token(), { issuer: idp.issuer });

      expect(principal.id).toBe(`${idp.issuer}#alice`);
      expect(idp.seen).toEqual([OIDC, '/jwks.json']);
    });
  });

  describe('refusals', () => {
    it.each([
      ['on a route without a tenant', undefined],
      ['on a tenant without an identity provider', tenantWith(undefined)],
      ['on a tenant with introspection only', tenantWith({ introspection: INTROSPECTION })],
    ])('refuses any JWT %s', async (_what, tenant) => {
      const err = await refusal(sut.authenticate(attempt(await token(), tenant)));

      expect(err.reason).toBe('no_identity_provider');
      expect(err.message).toBe(
        'JWT bearer tokens are accepted only on the routes of a tenant with an identity provider configured',
      );
      expect(idp.seen).toEqual([]);
    });

    it('refuses alg none before looking up any key', async () => {
      const unsigned = `${b64({ alg: 'none', kid: 'k1' })}.${b64({ iss: idp.issuer, aud: RESOURCE, sub: 'alice', exp: nowS() + 300 })}.`;

      expect(await rejection(unsigned)).toBe(
        `bearer token rejected: algorithm none is not accepted; use one of ${ALL_ALGORITHMS}`,
      );
      expect(idp.seen).toEqual([]);
    });

    it('refuses HS256, even keyed with the public key’s bytes', async () => {
      const secret = Buffer.from(JSON.stringify(jwkOf(rsa.publicKey, 'k1')));
      const hmac = await token({}, { alg: 'HS256', key: secret as unknown as KeyObject });

      expect(await rejection(hmac)).toBe(
        `bearer token rejected: algorithm HS256 is not accepted; use one of ${ALL_ALGORITHMS}`,
      );
      expect(idp.seen).toEqual([]);
    });

    it('refuses a token without an alg', async () => {
      const noAlg = `${b64({ kid: 'k1' })}.${b64({ sub: 'alice' })}.c2ln`;

      expect(await rejection(noAlg)).toBe(
        `bearer token rejected: algorithm (none) is not accepted; use one of ${ALL_ALGORITHMS}`,
      );
    });

    it('refuses an algorithm outside the tenant’s list, naming the list', async () => {
      expect(await rejection(await token(), { ...settings, algorithms: ['ES256', 'ES384'] })).toBe(
        'bearer token rejected: algorithm RS256 is not accepted; use one of ES256, ES384',
      );
    });

    it('refuses a header that is not JSON', async () => {
      expect(await rejection('bm90IGpzb24.e30.c2ln')).toBe(
        'bearer token rejected: not a valid token',
      );
    });

    it('refuses claims that are not a JSON object', async () => {
      const signed = await new jose.CompactSign(new TextEncoder().encode('"just a string"'))
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .sign(rsa.privateKey);

      expect(await rejection(signed)).toBe('bearer token rejected: not a valid token');
    });

    it.each([
      ['another issuer', { iss: 'https://evil.example' }],
      ['no issuer', { iss: undefined }],
    ])('refuses a token from %s', async (_what, claims) => {
      expect(await rejection(await token(claims))).toBe(
        'bearer token rejected: issuer is not this tenant’s identity provider',
      );
    });

    it.each([
      ['another audience', { aud: 'https://mcp.example.com/t/other/mcp' }],
      ['no audience', { aud: undefined }],
    ])('refuses a token for %s, saying which audience is expected', async (_what, claims) => {
      expect(await rejection(await token(claims))).toBe(
        `bearer token rejected: audience must be ${RESOURCE}`,
      );
    });

    it('lists the configured audience next to the resource', async () => {
      expect(
        await rejection(await token({ aud: 'api://other' }), {
          ...settings,
          audience: 'api://acme',
        }),
      ).toBe(`bearer token rejected: audience must be ${RESOURCE} or api://acme`);
    });

    it('refuses a token that expired more than 30 s ago', async () => {
      expect(await rejection(await token({ exp: nowS() - 60 }))).toBe(
        'bearer token rejected: token has expired',
      );
    });

    it('refuses a token whose nbf is more than 30 s ahead', async () => {
      expect(await rejection(await token({ nbf: nowS() + 60 }))).toBe(
        'bearer token rejected: token is not yet valid (nbf)',
      );
    });

    it('refuses a token without exp', async () => {
      expect(await rejection(await token({ exp: undefined }))).toBe(
        'bearer token rejected: token has no expiry (exp)',
      );
    });

    it('refuses a token whose exp is not a number', async () => {
      expect(await rejection(await token({ exp: String(nowS() + 300) }))).toBe(
        'bearer token rejected: token expiry (exp) must be a number',
      );
    });

    it('refuses a token whose iat is not a number', async () => {
      expect(await rejection(await token({ iat: 'yesterday' }))).toBe(
        'bearer token rejected: claim iat is not valid',
      );
    });

    it.each([
      ['no sub', { sub: undefined }],
      ['an empty sub', { sub: '' }],
      ['a sub that is not a string', { sub: 42 }],
    ])('refuses a token with %s', async (_what, claims) => {
      expect(await rejection(await token(claims))).toBe(
        'bearer token rejected: token has no subject (sub)',
      );
    });

    it('refuses a token signed with a key the provider does not have, naming its kid', async () => {
      expect(await rejection(await token({}, { kid: 'k9', key: otherRsa.privateKey }))).toBe(
        'bearer token rejected: no signing key with kid "k9" at the identity provider',
      );
    });

    it('refuses a token without a kid that no key of the set fits', async () => {
      idp.routes.set('/jwks.json', json({ keys: [jwkOf(ec.publicKey, 'e1')] }));

      expect(await rejection(await token({}, { kid: '' }))).toBe(
        'bearer token rejected: no signing key matches the token at the identity provider',
      );
    });

    it('refuses a token without a kid when several keys of the set could be its', async () => {
      idp.routes.set(
        '/jwks.json',
        json({ keys: [jwkOf(otherRsa.publicKey, 'k0'), jwkOf(rsa.publicKey, 'k1')] }),
      );

      expect(await rejection(await token({}, { kid: '' }))).toBe(
        'bearer token rejected: no signing key matches the token at the identity provider',
      );
    });

    it('refuses a token whose signature does not verify', async () => {
      expect(await rejection(await token({}, { kid: 'k1', key: otherRsa.privateKey }))).toBe(
        'bearer token rejected: invalid signature',
      );
    });

    it('refuses a token whose claims were altered after signing', async () => {
      const [header, , signature] = (await token()).split('.');
      const forged = `${header}.${b64({ iss: idp.issuer, aud: RESOURCE, sub: 'admin', exp: nowS() + 300 })}.${signature}`;

      expect(await rejection(forged)).toBe('bearer token rejected: invalid signature');
    });

    it('refuses tokens while the signing keys cannot be fetched', async () => {
      idp.routes.set('/jwks.json', (_req, res) => {
        res.statusCode = 503;
        res.end();
      });

      expect(await rejection(await token())).toBe(
        'bearer token rejected: the identity provider’s signing keys could not be fetched; try again shortly',
      );
    });

    it('refuses tokens while the JWKS URI cannot be connected to, saying the keys could not be fetched', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const { port } = closed.address() as AddressInfo;
      await new Promise((resolve) => closed.close(resolve));
      const unreachable = { ...settings, jwksUri: `http://127.0.0.1:${port}/jwks.json` };
      const bearer = await token();

      // The first token meets the failed connection; the next one, the negative cache.
      const messages = [await rejection(bearer, unreachable), await rejection(bearer, unreachable)];

      expect(messages).toEqual(
        Array(2).fill(
          'bearer token rejected: the identity provider’s signing keys could not be fetched; try again shortly',
        ),
      );
    });

    it('refuses tokens while the issuer’s metadata cannot be used, saying why', async () => {
      idp.routes.set(OIDC, json({ issuer: 'https://evil.example', jwks_uri: idp.jwksUri }));

      expect(await rejection(await token(), { issuer: idp.issuer })).toBe(
        'bearer token rejected: the identity provider’s metadata could not be used ' +
          `(the metadata's issuer is not ${idp.issuer}: tokens from it would not be this issuer's); try again shortly`,
      );
      expect(idp.seen).toEqual([OIDC]);
    });
  });
});
