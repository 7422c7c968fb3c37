import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as Jose from 'jose' with { 'resolution-mode': 'import' };

/**
 * A real OpenID provider on loopback: `oidc-provider` (panva), configured for machine clients.
 * `client_credentials` with RFC 8707 resource indicators mints access tokens whose `aud` is the
 * requested resource (a tenant's MCP URL), as a JWT (`at+jwt`, signed with the provider's key) or
 * as an opaque handle, per request; RFC 7662 introspection and RFC 7009 revocation are on.
 *
 * In front of the provider sits a plain node:http server of the fixture's own, on the issuer's
 * port: it counts requests per path, can rewrite the discovery document (an issuer that lies
 * about itself), can serve RFC 8414 metadata only, and keeps the port across a rotation of the
 * signing keys (a new provider instance with a new key set, same token store) and across
 * stop()/restart() (an outage: connections refused, then the same issuer again).
 */

/** The scopes every resource of this provider allows (a token gets those it asks for). */
export const OIDC_SCOPES = ['math:use', 'notes:read', 'notes:write', 'tenant:admin'] as const;

export type TokenFormat = 'jwt' | 'opaque';
export type SigningAlg = 'RS256' | 'ES256';

/** A client of the provider, authenticating with client_secret_basic. */
export interface OidcClient {
  clientId: string;
  clientSecret: string;
}

export interface OidcProviderOptions {
  /** The signing algorithm of the provider's keys and JWT access tokens (default RS256). */
  alg?: SigningAlg;
  /** The access-token format for a resource, unless token() names one (default: 'jwt'). */
  format?: (resource: string) => TokenFormat;
  /** The ids of the clients that get tokens (default: ['mcp-app']); the first is the default. */
  tokenClients?: string[];
  /** Scopes allowed on every resource (default OIDC_SCOPES). */
  scopes?: readonly string[];
  /** Access token lifetime in seconds (default 300). */
  accessTokenTTL?: number;
}

export interface TokenRequest {
  /** The resource indicator (RFC 8707): the token's audience. */
  resource: string;
  /** Space-separated scopes; omitted: none. */
  scope?: string;
  /** One of the token clients (its id), default the first. */
  client?: string;
  /** Overrides `options.format` for this token. */
  format?: TokenFormat;
}

/** What an introspection (RFC 7662) answered, as the platform's client sees it. */
export type IntrospectionAnswer = { active: boolean } & Record<string, unknown>;

/** How discovery is served: OpenID Connect and RFC 8414 (real), or only RFC 8414. */
export type DiscoveryMode = 'both' | 'oauth-only';

export interface OidcProvider {
  /** http://127.0.0.1:PORT, the same after rotateKeys() and restart(). */
  issuer: string;
  port: number;
  jwksUri: string;
  tokenEndpoint: string;
  introspectionEndpoint: string;
  revocationEndpoint: string;
  /** The clients that get tokens. */
  tokenClients: OidcClient[];
  /** The client the platform introspects with; its secret is shaped `upstream-secret-<hex>`. */
  introspectionClient: OidcClient;
  /** `{endpoint, clientId, clientSecret}` for a tenant's `introspection` settings. */
  introspectionSettings(extra?: Record<string, unknown>): Record<string, unknown>;
  /** A fresh access token from the token endpoint; fails unless it is issued. */
  token(req: TokenRequest): Promise<string>;
  /** The token endpoint's answer to a client_credentials request, whatever it is. */
  tokenResponse(
    req: TokenRequest,
    auth?: OidcClient,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Revokes a token at the revocation endpoint (as the client it was issued to). */
  revoke(token: string, client?: string): Promise<void>;
  /** Introspects a token as the platform's client would. */
  introspect(token: string): Promise<IntrospectionAnswer>;
  /** The key ids the JWKS publishes right now; the first one signs. */
  kids(): string[];
  /** A new signing key (it signs from now on); the old ones are dropped unless `keepOld`. */
  rotateKeys(opts?: { keepOld?: boolean }): Promise<string>;
  /** Serves the discovery documents as `transform` makes them (undefined: as the provider does). */
  setMetadata(transform: ((doc: Record<string, unknown>) => unknown) | undefined): void;
  /** Serves discovery documents whose `issuer` is `issuer` (undefined: the real one). */
  setMetadataIssuer(issuer: string | undefined): void;
  setDiscovery(mode: DiscoveryMode): void;
  /** Requests received per path (the fixture's own internal reads not counted). */
  requests: Record<string, number>;
  count(path: string): number;
  /** Errors the provider reported (server_error events), for diagnosing a failing test. */
  errors: Error[];
  /** False while stopped. */
  readonly running: boolean;
  /** Closes the port: every connection is refused until restart(). */
  stop(): Promise<void>;
  /** stop() (if running), then listens again on the same port; tokens and keys are kept. */
  restart(): Promise<void>;
}

// oidc-provider ships no type declarations; this is the little of its API the fixture uses.
interface ProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: 'server_error', listener: (ctx: unknown, err: Error) => void): void;
}
type ProviderConstructor = new (
  issuer: string,
  config: Record<string, unknown>,
) => ProviderInstance;
interface KoaContext {
  get(header: string): string;
}
type Jwk = Record<string, unknown> & { kid: string };

let providerModule: Promise<ProviderConstructor> | undefined;

/**
 * oidc-provider is an ES module: loaded by a dynamic import (the specifier in a variable keeps
 * TypeScript from looking for declarations it does not ship). Its one-time warning about Node 20
 * not being an LTS it supports is dropped; every other warning stays.
 */
function loadProvider(): Promise<ProviderConstructor> {
  providerModule ??= (async () => {
    const specifier = 'oidc-provider';
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('Unsupported runtime')) return;
      warn(...args);
    };
    try {
      const mod = (await import(specifier)) as { default: ProviderConstructor };
      return mod.default;
    } finally {
      console.warn = warn;
    }
  })();
  return providerModule;
}

let jose: Promise<typeof Jose> | undefined;
const loadJose = (): Promise<typeof Jose> => (jose ??= import('jose'));

/** A new private signing key as a JWK, with a kid of its own. */
async function newSigningKey(alg: SigningAlg): Promise<Jwk> {
  const jose = await loadJose();
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const kid = `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}`;
  return { ...(await jose.exportJWK(privateKey)), kid, alg, use: 'sig' };
}

/**
 * The provider's storage (oidc-provider's adapter interface), kept by the fixture: opaque tokens
 * survive a key rotation (a new provider instance) and a restart. One store per fixture, so two
 * providers in a file never see each other's tokens.
 */
function storeAdapter(store: Map<string, { payload: Record<string, unknown>; until: number }>) {
  return class FixtureAdapter {
    constructor(private readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
      const until = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
      store.set(this.key(id), { payload, until });
      return Promise.resolve();
    }
    find(id: string): Promise<Record<string, unknown> | undefined> {
      const hit = store.get(this.key(id));
      if (hit && hit.until <= Date.now()) store.delete(this.key(id));
      return Promise.resolve(hit && hit.until > Date.now() ? hit.payload : undefined);
    }
    findByUid(uid: string): Promise<Record<string, unknown> | undefined> {
      for (const { payload } of store.values())
        if (payload.uid === uid) return Promise.resolve(payload);
      return Promise.resolve(undefined);
    }
    findByUserCode(code: string): Promise<Record<string, unknown> | undefined> {
      for (const { payload } of store.values()) {
        if (payload.userCode === code) return Promise.resolve(payload);
      }
      return Promise.resolve(undefined);
    }
    consume(id: string): Promise<void> {
      const hit = store.get(this.key(id));
      if (hit) hit.payload.consumed = Math.floor(Date.now() / 1000);
      return Promise.resolve();
    }
    destroy(id: string): Promise<void> {
      store.delete(this.key(id));
      return Promise.resolve();
    }
    revokeByGrantId(grantId: string): Promise<void> {
      for (const [k, { payload }] of store) if (payload.grantId === grantId) store.delete(k);
      return Promise.resolve();
    }
  };
}

const basic = (c: OidcClient) =>
  `Basic ${Buffer.from(
    `${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`,
  ).toString('base64')}`;

const FORM = 'application/x-www-form-urlencoded';
const FORMAT_HEADER = 'x-oidc-fixture-token-format';
const INTERNAL_HEADER = 'x-oidc-fixture-internal';
const DISCOVERY_PATHS = [
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
];

export async function startOidcProvider(opts: OidcProviderOptions = {}): Promise<OidcProvider> {
  const Provider = await loadProvider();
  const alg = opts.alg ?? 'RS256';
  const scopes = (opts.scopes ?? OIDC_SCOPES).join(' ');
  const ttl = opts.accessTokenTTL ?? 300;
  const secret = () => `upstream-secret-${randomBytes(12).toString('hex')}`;
  const tokenClients: OidcClient[] = (opts.tokenClients ?? ['mcp-app']).map((clientId) => ({
    clientId,
    clientSecret: secret(),
  }));
  const introspectionClient: OidcClient = { clientId: 'mcp-platform', clientSecret: secret() };
  const internalNonce = randomBytes(16).toString('hex');
  const store = new Map<string, { payload: Record<string, unknown>; until: number }>();
  const Adapter = storeAdapter(store);
  const requests: Record<string, number> = {};
  const errors: Error[] = [];
  let keys: Jwk[] = [await newSigningKey(alg)];
  let transform: ((doc: Record<string, unknown>) => unknown) | undefined;
  let discovery: DiscoveryMode = 'both';

  const server = createServer();
  let port = 0;
  let running = false;
  const issuerRef = { value: '' };

  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) =>
    res.writeHead(503).end();

  /** A provider instance over the current keys (the first signs) and the fixture's store. */
  const build = (issuer: string) => {
    const provider = new Provider(issuer, {
      adapter: Adapter,
      clients: [
        ...tokenClients.map((c) => ({
          client_id: c.clientId,
          client_secret: c.clientSecret,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
          // The default (RS256) must be a key the provider has.
          id_token_signed_response_alg: alg,
        })),
        {
          client_id: introspectionClient.clientId,
          client_secret: introspectionClient.clientSecret,
          grant_types: [],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
          id_token_signed_response_alg: alg,
        },
      ],
      jwks: { keys },
      scopes: ['openid', ...(opts.scopes ?? OIDC_SCOPES)],
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: {
          enabled: true,
          // Any authenticated client may introspect (the platform's client has no tokens of its own).
          allowedPolicy: () => Promise.resolve(true),
        },
        revocation: {
          enabled: true,
          allowedPolicy: (
            _ctx: unknown,
            client: { clientId: string },
            token: { clientId: string },
          ) => Promise.resolve(client.clientId === token.clientId),
        },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => Promise.resolve(undefined),
          useGrantedResource: () => Promise.resolve(true),
          getResourceServerInfo: (ctx: KoaContext, resource: string) => {
            const asked = ctx.get(FORMAT_HEADER);
            const format: TokenFormat =
              asked === 'jwt' || asked === 'opaque' ? asked : (opts.format?.(resource) ?? 'jwt');
            return Promise.resolve({
              scope: scopes,
              accessTokenTTL: ttl,
              accessTokenFormat: format,
              jwt: { sign: { alg } },
            });
          },
        },
      },
      ttl: {
        AccessToken: () => ttl,
        ClientCredentials: () => ttl,
        Grant: () => 3600,
        Session: () => 3600,
        Interaction: () => 600,
        IdToken: () => 3600,
        AuthorizationCode: () => 60,
        RefreshToken: () => 3600,
        DeviceCode: () => 600,
        BackchannelAuthenticationRequest: () => 600,
        PreAuthorizedCode: () => 600,
      },
    });
    provider.on('server_error', (_ctx, err) => errors.push(err));
    handler = provider.callback();
  };

  /** The provider's own discovery document (read through the port, not counted). */
  const providerMetadata = async (): Promise<Record<string, unknown>> => {
    const res = await fetch(`${issuerRef.value}/.well-known/openid-configuration`, {
      headers: { [INTERNAL_HEADER]: internalNonce },
    });
    return (await res.json()) as Record<string, unknown>;
  };

  const send = (res: ServerResponse, status: number, body: unknown) =>
    res
      .writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
      .end(typeof body === 'string' ? body : JSON.stringify(body));

  const serveDiscovery = async (path: string, res: ServerResponse) => {
    if (discovery === 'oauth-only' && path === DISCOVERY_PATHS[0]) {
      return send(res, 404, { error: 'not_found', error_description: 'no OpenID Connect here' });
    }
    const doc = await providerMetadata();
    send(res, 200, transform ? transform(doc) : doc);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const internal = req.headers[INTERNAL_HEADER] === internalNonce;
    if (!internal) requests[path] = (requests[path] ?? 0) + 1;
    if (!internal && req.method === 'GET' && DISCOVERY_PATHS.includes(path)) {
      if (transform || discovery !== 'both') {
        serveDiscovery(path, res).catch((err: unknown) => {
          errors.push(err as Error);
          if (!res.headersSent) send(res, 500, { error: 'server_error' });
        });
        return;
      }
    }
    handler(req, res);
  });

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        running = true;
        resolve();
      });
    });

  const stop = async () => {
    if (!running) return;
    running = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    // Let clients in this process (the platform's fetch pool) see the FINs before a restart.
    await new Promise((resolve) => setTimeout(resolve, 20));
  };

  await listen();
  issuerRef.value = `http://127.0.0.1:${port}`;
  const issuer = issuerRef.value;
  build(issuer);

  const clientNamed = (id?: string): OidcClient => {
    const c = id ? tokenClients.find((t) => t.clientId === id) : tokenClients[0];
    if (!c) throw new Error(`no token client ${id}`);
    return c;
  };

  const tokenResponse: OidcProvider['tokenResponse'] = async (req, auth) => {
    const form = new URLSearchParams({ grant_type: 'client_credentials', resource: req.resource });
    if (req.scope) form.set('scope', req.scope);
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        Authorization: basic(auth ?? clientNamed(req.client)),
        'Content-Type': FORM,
        ...(req.format ? { [FORMAT_HEADER]: req.format } : {}),
      },
      body: form,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  return {
    issuer,
    port,
    jwksUri: `${issuer}/jwks`,
    tokenEndpoint: `${issuer}/token`,
    introspectionEndpoint: `${issuer}/token/introspection`,
    revocationEndpoint: `${issuer}/token/revocation`,
    tokenClients,
    introspectionClient,
    introspectionSettings: (extra = {}) => ({
      endpoint: `${issuer}/token/introspection`,
      clientId: introspectionClient.clientId,
      clientSecret: introspectionClient.clientSecret,
      ...extra,
    }),
    tokenResponse,
    token: async (req) => {
      const { status, body } = await tokenResponse(req);
      if (status !== 200 || typeof body.access_token !== 'string') {
        throw new Error(`token endpoint answered ${status}: ${JSON.stringify(body)}`);
      }
      return body.access_token;
    },
    revoke: async (token, client) => {
      const res = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: { Authorization: basic(clientNamed(client)), 'Content-Type': FORM },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      });
      if (res.status !== 200) {
        throw new Error(`revocation endpoint answered ${res.status}: ${await res.text()}`);
      }
      await res.body?.cancel();
    },
    introspect: async (token) => {
      const res = await fetch(`${issuer}/token/introspection`, {
        method: 'POST',
        headers: { Authorization: basic(introspectionClient), 'Content-Type': FORM },
        body: new URLSearchParams({ token }),
      });
      const body = (await res.json()) as IntrospectionAnswer;
      if (res.status !== 200) throw new Error(`introspection answered ${res.status}`);
      return body;
    },
    kids: () => keys.map((k) => k.kid),
    rotateKeys: async ({ keepOld = false } = {}) => {
      const next = await newSigningKey(alg);
      keys = keepOld ? [next, ...keys] : [next];
      build(issuer);
      return next.kid;
    },
    setMetadata: (t) => {
      transform = t;
    },
    setMetadataIssuer: (override) => {
      transform = override === undefined ? undefined : (doc) => ({ ...doc, issuer: override });
    },
    setDiscovery: (mode) => {
      discovery = mode;
    },
    requests,
    count: (path) => requests[path] ?? 0,
    errors,
    get running() {
      return running;
    },
    stop,
    restart: async () => {
      await stop();
      await listen();
    },
  };
}

/**
 * An OpenID provider for the tests of the enclosing describe block: started before them
 * (beforeAll), stopped after them (afterAll). Its fields are there once the block's tests run.
 */
export function useOidcProvider(opts: OidcProviderOptions = {}): OidcProvider {
  const fixture = {} as OidcProvider;
  let started: OidcProvider | undefined;
  beforeAll(async () => {
    started = await startOidcProvider(opts);
    // Accessors (running) are copied as their behaviour, not their value.
    Object.defineProperties(fixture, Object.getOwnPropertyDescriptors(started));
  });
  afterAll(async () => {
    await started?.stop();
  });
  return fixture;
}
