import type { JsonWebKey, KeyObject } from 'node:crypto';
import { createServer, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { newKeyPair, signJws } from './idp';

/** How the hostile identity provider answers a JWKS request. */
export type HostileJwksMode =
  | { kind: 'keys'; keys: unknown[] }
  | { kind: 'huge'; bytes: number }
  | { kind: 'drip'; intervalMs: number }
  | { kind: 'redirect'; to: string }
  | { kind: 'raw'; status: number; contentType: string; body: string };

/**
 * An identity provider that misbehaves on purpose: a JWKS that never ends, arrives a byte at a
 * time, redirects, or is not a key set at all. It counts what it managed to send before the
 * platform hung up.
 */
export class HostileIdp {
  issuer = '';
  jwksUri = '';
  requests = 0;
  /** Bytes of the last JWKS response body written before the connection closed or it ended. */
  bytesSent = 0;
  /** Whether the last JWKS response was written to its end. */
  completed = false;
  mode: HostileJwksMode;
  readonly kid = 'hostile-key-1';
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
  private server?: Server;
  private readonly open = new Set<ServerResponse>();

  private constructor() {
    const pair = newKeyPair('RS256');
    this.publicKey = pair.publicKey;
    this.privateKey = pair.privateKey;
    this.mode = { kind: 'keys', keys: [this.jwk()] };
  }

  static async start(): Promise<HostileIdp> {
    const idp = new HostileIdp();
    idp.server = createServer((req, res) => {
      if (!req.url?.startsWith('/jwks')) {
        res.writeHead(404).end();
        return;
      }
      idp.requests += 1;
      idp.bytesSent = 0;
      idp.completed = false;
      idp.open.add(res);
      res.on('close', () => idp.open.delete(res));
      idp.answer(res);
    });
    await new Promise<void>((r) => idp.server!.listen(0, '127.0.0.1', r));
    const { port } = idp.server.address() as AddressInfo;
    idp.issuer = `http://127.0.0.1:${port}`;
    idp.jwksUri = `http://127.0.0.1:${port}/jwks.json`;
    return idp;
  }

  /** The public JWK of the signing key, with this provider's kid. */
  jwk(): JsonWebKey {
    return { ...this.publicKey.export({ format: 'jwk' }), kid: this.kid, alg: 'RS256', use: 'sig' };
  }

  /** A valid RS256 token for `aud`, signed with this provider's key. */
  sign(aud: string, kid: string = this.kid): string {
    const now = Math.floor(Date.now() / 1000);
    return signJws(
      { alg: 'RS256', typ: 'JWT', kid },
      { sub: 'hostile-user', iss: this.issuer, aud, iat: now, exp: now + 300 },
      this.privateKey,
    );
  }

  private answer(res: ServerResponse): void {
    const mode = this.mode;
    switch (mode.kind) {
      case 'keys':
        return this.finish(res, 200, 'application/json', JSON.stringify({ keys: mode.keys }));
      case 'raw':
        return this.finish(res, mode.status, mode.contentType, mode.body);
      case 'redirect':
        res.writeHead(302, { location: mode.to }).end();
        this.completed = true;
        return;
      case 'drip': {
        res.writeHead(200, { 'content-type': 'application/json' });
        const body = JSON.stringify({ keys: [this.jwk()] });
        let i = 0;
        const timer = setInterval(() => {
          if (res.destroyed || i >= body.length) {
            clearInterval(timer);
            if (!res.destroyed) {
              res.end();
              this.completed = true;
            }
            return;
          }
          res.write(body[i]);
          this.bytesSent += 1;
          i += 1;
        }, mode.intervalMs);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case 'huge': {
        // A valid start, then whitespace for as long as the client keeps reading.
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const head = `{"keys":[${JSON.stringify(this.jwk())}`;
        res.write(head);
        this.bytesSent += head.length;
        const pump = () => {
          while (!res.destroyed && this.bytesSent < mode.bytes) {
            this.bytesSent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          if (!res.destroyed) {
            res.end(']}');
            this.completed = true;
          }
        };
        pump();
        return;
      }
    }
  }

  private finish(res: ServerResponse, status: number, type: string, body: string): void {
    res.writeHead(status, { 'content-type': type }).end(body);
    this.bytesSent = Buffer.byteLength(body);
    this.completed = true;
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
