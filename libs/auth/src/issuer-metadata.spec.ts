import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { loadConfig } from '@app/config';
import { EgressPolicy } from '@app/egress';
import { DiscoveryFailed, IssuerMetadata } from './issuer-metadata';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A loopback authorization server: handlers by path (404 elsewhere), requests in order. */
interface AuthServer {
  readonly origin: string;
  readonly routes: Map<string, Handler>;
  readonly seen: string[];
}

const OIDC = '/.well-known/openid-configuration';
const RFC8414 = '/.well-known/oauth-authorization-server';
const MINUTE = 60_000;

const cleanups: (() => Promise<unknown>)[] = [];

async function authServer(routes: Record<string, Handler> = {}): Promise<AuthServer> {
  const server: Server = createServer((req, res) => {
    state.seen.push(req.url ?? '');
    const handler = state.routes.get(req.url ?? '');
    if (handler) return handler(req, res);
    res.statusCode = 404;
    res.end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const state: AuthServer = { origin, routes: new Map(Object.entries(routes)), seen: [] };
  return state;
}

const json =
  (body: unknown, contentType = 'application/json'): Handler =>
  (_req, res) => {
    res.setHeader('content-type', contentType);
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
const status =
  (code: number): Handler =>
  (_req, res) => {
    res.statusCode = code;
    res.end(`HTTP ${code}`);
  };

/** Expects a DiscoveryFailed, and gives it back. */
async function failure(promise: Promise<unknown>): Promise<DiscoveryFailed> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof DiscoveryFailed)) {
    throw new Error(
      `expected DiscoveryFailed, got ${err instanceof Error ? err.stack : String(err)}`,
    );
  }
  return err;
}

describe(IssuerMetadata.name, () => {
  let now: number;
  let warnings: string[];
  let egress: EgressPolicy;
  let sut: IssuerMetadata;

  /** An issuer at `<origin>/tenant-x` whose OIDC document says so. */
  async function oidcIssuer(doc: Record<string, unknown> = {}) {
    const srv = await authServer();
    const issuer = `${srv.origin}/tenant-x`;
    const jwksUri = `${srv.origin}/tenant-x/keys`;
    srv.routes.set(`/tenant-x${OIDC}`, json({ issuer, jwks_uri: jwksUri, ...doc }));
    return { srv, issuer, jwksUri };
  }

  beforeEach(() => {
    now = Date.parse('2030-01-01T00:00:00Z');
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    warnings = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
    egress = new EgressPolicy(loadConfig({ EGRESS_ALLOW: '127.0.0.0/8' }));
    cleanups.push(() => egress.onApplicationShutdown());
    sut = new IssuerMetadata(egress);
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(cleanups.splice(0).map((c) => c()));
  });

  describe('discovery', () => {
    it('finds the jwks_uri in the OpenID Connect document, appended to the issuer’s path', async () => {
      const { srv, issuer, jwksUri } = await oidcIssuer();

      await expect(sut.jwksUriFor({ issuer })).resolves.toBe(jwksUri);

      expect(srv.seen).toEqual([`/tenant-x${OIDC}`]);
    });

    it('finds the OpenID Connect document of an issuer without a path', async () => {
      const srv = await authServer();
      srv.routes.set(OIDC, json({ issuer: srv.origin, jwks_uri: `${srv.origin}/jwks` }));

      await expect(sut.jwksUriFor({ issuer: srv.origin })).resolves.toBe(`${srv.origin}/jwks`);
      expect(srv.seen).toEqual([OIDC]);
    });

    it('falls back to RFC 8414 metadata, inserted before the issuer’s path, when there is no OIDC document', async () => {
      const srv = await authServer();
      const issuer = `${srv.origin}/tenant-x`;
      srv.routes.set(`${RFC8414}/tenant-x`, json({ issuer, jwks_uri: `${srv.origin}/oauth/jwks` }));

      await expect(sut.jwksUriFor({ issuer })).resolves.toBe(`${srv.origin}/oauth/jwks`);

      expect(srv.seen).toEqual([`/tenant-x${OIDC}`, `${RFC8414}/tenant-x`]);
    });

    it('finds the RFC 8414 metadata of an issuer without a path', async () => {
      const srv = await authServer();
      srv.routes.set(RFC8414, json({ issuer: srv.origin, jwks_uri: `${srv.origin}/jwks` }));

      await expect(sut.jwksUriFor({ issuer: srv.origin })).resolves.toBe(`${srv.origin}/jwks`);
      expect(srv.seen).toEqual([OIDC, RFC8414]);
    });

    it('uses a configured jwksUri without fetching anything', async () => {
      const { srv, issuer } = await oidcIssuer();

      await expect(sut.jwksUriFor({ issuer, jwksUri: 'https://idp.example/keys' })).resolves.toBe(
        'https://idp.example/keys',
      );
      expect(srv.seen).toEqual([]);
    });

    it('shares one discovery between the calls that arrive while it runs', async () => {
      const { srv, issuer, jwksUri } = await oidcIssuer();

      const all = await Promise.all(Array.from({ length: 10 }, () => sut.jwksUriFor({ issuer })));

      expect(all).toEqual(Array(10).fill(jwksUri));
      expect(srv.seen).toHaveLength(1);
    });
  });

  describe('refusals', () => {
    it('refuses a document whose issuer is another: mismatch', async () => {
      const { issuer } = await oidcIssuer({ issuer: 'https://evil.example' });

      const err = await failure(sut.jwksUriFor({ issuer }));

      expect(err.failure).toBe('mismatch');
      expect(err.message).toBe(
        `the metadata's issuer is not ${issuer}: tokens from it would not be this issuer's`,
      );
    });

    it('refuses an RFC 8414 document whose issuer is another: mismatch', async () => {
      const srv = await authServer();
      const issuer = `${srv.origin}/tenant-x`;
      srv.routes.set(
        `${RFC8414}/tenant-x`,
        json({ issuer: `${srv.origin}/tenant-y`, jwks_uri: 'http://x/k' }),
      );

      expect((await failure(sut.jwksUriFor({ issuer }))).failure).toBe('mismatch');
    });

    it.each([
      ['no jwks_uri', { jwks_uri: undefined }],
      ['a jwks_uri that is not a string', { jwks_uri: 42 }],
      ['a jwks_uri that is not an http(s) URL', { jwks_uri: 'file:///etc/keys' }],
    ])('refuses a document with %s: invalid', async (_what, doc) => {
      const { issuer } = await oidcIssuer(doc);

      const err = await failure(sut.jwksUriFor({ issuer }));

      expect(err.failure).toBe('invalid');
      expect(err.message).toBe("the issuer's metadata has no jwks_uri");
    });

    it.each([
      ['an HTML page', '<html>login</html>', 'text/html'],
      ['a JSON array', '[1,2]', 'application/json'],
      ['JSON without an issuer', '{"jwks_uri":"http://x/k"}', 'application/json'],
    ])('refuses %s: invalid', async (_what, body, type) => {
      const srv = await authServer();
      const issuer = `${srv.origin}/tenant-x`;
      srv.routes.set(`/tenant-x${OIDC}`, json(body, type));

      const err = await failure(sut.jwksUriFor({ issuer }));

      expect(err.failure).toBe('invalid');
      expect(err.message).toMatch(/^the issuer's metadata is not usable: /);
    });

    it('refuses an issuer with neither document: invalid, naming both', async () => {
      const srv = await authServer();
      const issuer = `${srv.origin}/tenant-x`;

      const err = await failure(sut.jwksUriFor({ issuer }));

      expect(err.failure).toBe('invalid');
      expect(err.message).toBe(
        `no metadata at ${issuer} (OpenID Connect discovery answered HTTP 404, RFC 8414 metadata answered HTTP 404)`,
      );
      expect(srv.seen).toEqual([`/tenant-x${OIDC}`, `${RFC8414}/tenant-x`]);
    });

    it('does not follow a redirect', async () => {
      const srv = await authServer();
      const issuer = `${srv.origin}/tenant-x`;
      srv.routes.set(`/tenant-x${OIDC}`, (_req, res) => {
        res.writeHead(302, { location: `/moved${OIDC}` });
        res.end();
      });
      srv.routes.set(`/moved${OIDC}`, json({ issuer, jwks_uri: `${srv.origin}/k` }));

      const err = await failure(sut.jwksUriFor({ issuer }));

      expect(err.failure).toBe('invalid');
      expect(err.message).toContain('answered HTTP 302');
      expect(srv.seen).toEqual([`/tenant-x${OIDC}`]);
    });

    it('calls a 5xx unreachable, and does not fall back to RFC 8414 on it', async () => {
      const srv = await authServer();
      const issuer = `${srv.origin}/tenant-x`;
      srv.routes.set(`/tenant-x${OIDC}`, status(503));

      const err = await failure(sut.jwksUriFor({ issuer }));

      expect(err.failure).toBe('unreachable');
      expect(err.message).toContain(`no metadata at ${issuer}`);
      expect(err.message).toContain('answered HTTP 503');
      expect(srv.seen).toEqual([`/tenant-x${OIDC}`]);
    });

    it('calls a 5xx of the RFC 8414 fallback unreachable', async () => {
      const srv = await authServer();
      const issuer = `${srv.origin}/tenant-x`;
      srv.routes.set(`${RFC8414}/tenant-x`, status(500));

      expect((await failure(sut.jwksUriFor({ issuer }))).failure).toBe('unreachable');
    });

    it('calls a closed port unreachable', async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      await new Promise((resolve) => server.close(resolve));

      const err = await failure(sut.jwksUriFor({ issuer: `http://127.0.0.1:${port}/tenant-x` }));

      expect(err.failure).toBe('unreachable');
      expect(err.message).toBe("the issuer's metadata could not be read: fetch failed");
    });

    it('calls a host that does not resolve unreachable', async () => {
      const err = await failure(sut.jwksUriFor({ issuer: 'http://no-such-idp.invalid/tenant-x' }));

      expect(err.failure).toBe('unreachable');
      expect(err.message).toContain('did not resolve');
    });

    it('calls an issuer the egress policy refuses invalid, saying why', async () => {
      const { srv, issuer } = await oidcIssuer();
      const strict = new EgressPolicy(loadConfig({}));
      cleanups.push(() => strict.onApplicationShutdown());

      const err = await failure(new IssuerMetadata(strict).jwksUriFor({ issuer }));

      expect(err.failure).toBe('invalid');
      expect(err.message).toContain('a loopback address');
      expect(srv.seen).toEqual([]);
    });

    it('refuses a document over 256 KiB', async () => {
      const { issuer } = await oidcIssuer({ padding: 'x'.repeat(256 * 1024) });

      const err = await failure(sut.jwksUriFor({ issuer }));

      expect(err.message).toMatch(/exceeds 262144 bytes/);
    });
  });

  describe('caching', () => {
    it('answers again from the cache for an hour, then reads the document again', async () => {
      const { srv, issuer, jwksUri } = await oidcIssuer();
      await sut.jwksUriFor({ issuer });

      now += 60 * MINUTE - 1;
      await expect(sut.jwksUriFor({ issuer })).resolves.toBe(jwksUri);
      expect(srv.seen).toHaveLength(1);

      srv.routes.set(`/tenant-x${OIDC}`, json({ issuer, jwks_uri: `${srv.origin}/rotated` }));
      now += 1;
      await expect(sut.jwksUriFor({ issuer })).resolves.toBe(`${srv.origin}/rotated`);
      expect(srv.seen).toHaveLength(2);
    });

    it('keeps the last known jwks_uri when a refresh fails, and retries it after 5 s', async () => {
      const { srv, issuer, jwksUri } = await oidcIssuer();
      await sut.jwksUriFor({ issuer });
      srv.routes.set(`/tenant-x${OIDC}`, status(503));

      now += 60 * MINUTE;
      await expect(sut.jwksUriFor({ issuer })).resolves.toBe(jwksUri);
      expect(srv.seen).toHaveLength(2);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(
        `metadata of issuer ${issuer} unavailable: no metadata at ${issuer}`,
      );
      expect(warnings[0]).toMatch(/HTTP 503\); using the last known jwks_uri$/);

      now += 4_999;
      await expect(sut.jwksUriFor({ issuer })).resolves.toBe(jwksUri);
      expect(srv.seen).toHaveLength(2);

      now += 1;
      await expect(sut.jwksUriFor({ issuer })).resolves.toBe(jwksUri);
      expect(srv.seen).toHaveLength(3);
    });

    it('keeps the last known jwks_uri when a refresh finds a changed issuer', async () => {
      const { srv, issuer, jwksUri } = await oidcIssuer();
      await sut.jwksUriFor({ issuer });
      srv.routes.set(
        `/tenant-x${OIDC}`,
        json({ issuer: 'https://evil.example', jwks_uri: 'https://evil.example/k' }),
      );

      now += 60 * MINUTE;

      await expect(sut.jwksUriFor({ issuer })).resolves.toBe(jwksUri);
    });

    it('refuses an issuer that never answered without asking it again for 5 s, then 10 s', async () => {
      const srv = await authServer({ [`/tenant-x${OIDC}`]: status(503) });
      const issuer = `${srv.origin}/tenant-x`;
      const first = await failure(sut.jwksUriFor({ issuer }));

      for (let i = 0; i < 10; i++) {
        expect(await failure(sut.jwksUriFor({ issuer }))).toBe(first);
      }
      now += 4_999;
      expect(await failure(sut.jwksUriFor({ issuer }))).toBe(first);
      expect(srv.seen).toHaveLength(1);

      now += 1;
      expect((await failure(sut.jwksUriFor({ issuer }))).failure).toBe('unreachable');
      expect(srv.seen).toHaveLength(2);
      now += 9_999;
      await failure(sut.jwksUriFor({ issuer }));
      expect(srv.seen).toHaveLength(2);
      now += 1;
      await failure(sut.jwksUriFor({ issuer }));
      expect(srv.seen).toHaveLength(3);
      expect(warnings).toHaveLength(3);
    });

    it('waits at most 30 s between tries', async () => {
      const srv = await authServer({ [`/tenant-x${OIDC}`]: status(503) });
      const issuer = `${srv.origin}/tenant-x`;
      await failure(sut.jwksUriFor({ issuer }));

      for (const wait of [5_000, 10_000, 20_000, 30_000, 30_000]) {
        const asked = srv.seen.length;
        now += wait - 1;
        await failure(sut.jwksUriFor({ issuer }));
        expect(srv.seen).toHaveLength(asked);
        now += 1;
        await failure(sut.jwksUriFor({ issuer }));
        expect(srv.seen).toHaveLength(asked + 1);
      }
    });

    it('accepts an issuer once it answers after the window', async () => {
      const srv = await authServer({ [`/tenant-x${OIDC}`]: status(503) });
      const issuer = `${srv.origin}/tenant-x`;
      await failure(sut.jwksUriFor({ issuer }));
      srv.routes.set(`/tenant-x${OIDC}`, json({ issuer, jwks_uri: `${srv.origin}/k` }));
      await failure(sut.jwksUriFor({ issuer }));

      now += 5_000;

      await expect(sut.jwksUriFor({ issuer })).resolves.toBe(`${srv.origin}/k`);
    });

    it('keeps issuers apart', async () => {
      const broken = await authServer({ [`/tenant-x${OIDC}`]: status(503) });
      await failure(sut.jwksUriFor({ issuer: `${broken.origin}/tenant-x` }));
      const { issuer, jwksUri } = await oidcIssuer();

      await expect(sut.jwksUriFor({ issuer })).resolves.toBe(jwksUri);
    });

    it('forget() drops what was learnt: the next call reads the document again', async () => {
      const { srv, issuer } = await oidcIssuer();
      await sut.jwksUriFor({ issuer });

      sut.forget(issuer);
      await sut.jwksUriFor({ issuer });

      expect(srv.seen).toHaveLength(2);
    });
  });

  describe('check()', () => {
    it('reads the document now, even when it is cached, and remembers the answer', async () => {
      const { srv, issuer } = await oidcIssuer();
      await sut.jwksUriFor({ issuer });
      srv.routes.set(`/tenant-x${OIDC}`, json({ issuer, jwks_uri: `${srv.origin}/rotated` }));

      await expect(sut.check(issuer)).resolves.toBe(`${srv.origin}/rotated`);
      expect(srv.seen).toHaveLength(2);

      await expect(sut.jwksUriFor({ issuer })).resolves.toBe(`${srv.origin}/rotated`);
      expect(srv.seen).toHaveLength(2);
    });

    it('asks an issuer inside its negative window, and clears the window when it answers', async () => {
      const srv = await authServer({ [`/tenant-x${OIDC}`]: status(503) });
      const issuer = `${srv.origin}/tenant-x`;
      await failure(sut.jwksUriFor({ issuer }));
      srv.routes.set(`/tenant-x${OIDC}`, json({ issuer, jwks_uri: `${srv.origin}/k` }));

      await expect(sut.check(issuer)).resolves.toBe(`${srv.origin}/k`);
      await expect(sut.jwksUriFor({ issuer })).resolves.toBe(`${srv.origin}/k`);
      expect(srv.seen).toHaveLength(2);
    });

    it.each([
      ['unreachable', status(502)],
      ['invalid', json({ jwks_uri: 'http://x/k' })],
    ] as const)('throws DiscoveryFailed %s', async (kind, handler) => {
      const srv = await authServer({ [`/tenant-x${OIDC}`]: handler });

      const err = await failure(sut.check(`${srv.origin}/tenant-x`));

      expect(err.failure).toBe(kind);
    });

    it('throws mismatch for another issuer’s document', async () => {
      const { srv } = await oidcIssuer();
      srv.routes.set(
        `/tenant-y${OIDC}`,
        json({ issuer: `${srv.origin}/tenant-x`, jwks_uri: 'http://x/k' }),
      );

      expect((await failure(sut.check(`${srv.origin}/tenant-y`))).failure).toBe('mismatch');
    });

    it('throws unreachable for a closed port', async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      await new Promise((resolve) => server.close(resolve));

      expect((await failure(sut.check(`http://127.0.0.1:${port}`))).failure).toBe('unreachable');
    });
  });
});
