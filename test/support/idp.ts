import { createHmac, generateKeyPairSync, type JsonWebKey, KeyObject, sign } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

export type TestAlg = 'RS256' | 'ES256';

/** Signs `header.payload` the way a JWS with `alg` is signed; `none` and HS256 for hostile cases. */
export function signJws(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject | Buffer | null,
): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const alg = header.alg;
  if (alg === 'none') return `${input}.`;
  if (alg === 'HS256')
    return `${input}.${createHmac('sha256', key as Buffer)
      .update(input)
      .digest('base64url')}`;
  if (alg === 'ES256') {
    return `${input}.${sign('sha256', Buffer.from(input), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  }
  return `${input}.${sign('sha256', Buffer.from(input), key as KeyObject).toString('base64url')}`;
}

export function newKeyPair(alg: TestAlg): { publicKey: KeyObject; privateKey: KeyObject } {
  return alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
}

/**
 * A test identity provider on loopback: a key pair, its JWKS served over HTTP, and a signer. The
 * JWKS can be switched off (503) or made to hang, to simulate an outage.
 */
export class TestIdp {
  issuer = '';
  jwksUri = '';
  jwksRequests = 0;
  mode: 'up' | 'down' | 'hang' = 'up';
  private server?: Server;
  private extraKeys: JsonWebKey[] = [];

  private constructor(
    readonly publicKey: KeyObject,
    readonly privateKey: KeyObject,
    readonly kid: string,
    readonly alg: TestAlg,
  ) {}

  static async start(alg: TestAlg = 'RS256', kid = 'test-key-1'): Promise<TestIdp> {
    const { publicKey, privateKey } = newKeyPair(alg);
    const idp = new TestIdp(publicKey, privateKey, kid, alg);
    idp.server = createServer((req, res) => {
      if (req.url !== '/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      idp.jwksRequests += 1;
      if (idp.mode === 'hang') return;
      if (idp.mode === 'down') {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(idp.jwks()));
    });
    await new Promise<void>((r) => idp.server!.listen(0, '127.0.0.1', r));
    const { port } = idp.server.address() as AddressInfo;
    idp.issuer = `http://127.0.0.1:${port}`;
    idp.jwksUri = `http://127.0.0.1:${port}/jwks.json`;
    return idp;
  }

  jwks(): { keys: JsonWebKey[] } {
    const pub = this.publicKey.export({ format: 'jwk' });
    return { keys: [{ ...pub, kid: this.kid, alg: this.alg, use: 'sig' }, ...this.extraKeys] };
  }

  addPublicKey(jwk: JsonWebKey): void {
    this.extraKeys.push(jwk);
  }

  /** A token with sane defaults: 5 minutes valid, this issuer, subject user-1. */
  sign(
    claims: { aud?: string | string[]; scope?: string; sub?: string; [k: string]: unknown },
    opts: {
      exp?: number | null;
      nbf?: number;
      iss?: string;
      kid?: string | null;
      key?: KeyObject;
    } = {},
  ): string {
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = {
      sub: 'user-1',
      iss: opts.iss ?? this.issuer,
      iat: now,
      ...claims,
    };
    if (opts.exp !== null) payload.exp = opts.exp ?? now + 300;
    if (opts.nbf !== undefined) payload.nbf = opts.nbf;
    const header = {
      alg: this.alg,
      typ: 'JWT',
      ...(opts.kid === null ? {} : { kid: opts.kid ?? this.kid }),
    };
    return signJws(header, payload, opts.key ?? this.privateKey);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
