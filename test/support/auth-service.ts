import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tenant's own auth service, as the platform's `external` authenticator calls it: it receives
 * `POST {"headers": {"<name>": "<value>", …}}` (names lowercased) with the values of the tenant's
 * configured headers, checks a user and a password among them, and answers 200
 * `{subject, scopes, expiresIn?}`, 401 (unknown user, wrong password) or 403 (a disabled user).
 * Its misbehaviours are modes: down (the port closed), slow (never answers), garbage (200 with
 * junk) and 500.
 */

export interface AuthUser {
  pass: string;
  scopes: string[];
  /** The subject answered (default: the user name). */
  subject?: string;
  /** 403 instead of 200 for this user. */
  disabled?: boolean;
}

export type AuthServiceMode = 'up' | 'down' | 'slow' | 'garbage' | '500';

/** The junk answered with 200 in 'garbage' mode, in turn. */
export const GARBAGE_BODIES: readonly { type: string; body: string }[] = [
  { type: 'text/html', body: '<html><body>Welcome!</body></html>' },
  { type: 'application/json', body: '{"subject": "alice", "scopes": ["math:use"' },
  { type: 'application/json', body: '{}' },
  { type: 'application/json', body: '[]' },
  { type: 'application/json', body: 'null' },
  { type: 'application/json', body: '{"subject": 42, "scopes": []}' },
  { type: 'application/json', body: '{"scopes": ["math:use", "tenant:admin"]}' },
  { type: 'application/json', body: '{"subject": {"id": "alice"}, "scopes": ["math:use"]}' },
  { type: 'application/json', body: '' },
];

export interface AuthServiceCall {
  /** The headers object of the request body, as sent (undefined if the body had none). */
  headers: Record<string, unknown> | undefined;
  /** The HTTP request headers of the call itself. */
  requestHeaders: Record<string, string | string[] | undefined>;
  /** The whole body, parsed (or the text when it was not JSON). */
  body: unknown;
}

export interface AuthServiceOptions {
  /** The header carrying the user (default X-User). */
  userHeader?: string;
  /** The header carrying the password (default X-Pass). */
  passHeader?: string;
  users?: Record<string, AuthUser>;
  /** expiresIn of every 200 answer (default: none). */
  expiresIn?: number;
}

export interface AuthService {
  /** http://127.0.0.1:PORT/check: the `external.url` of a tenant. */
  url: string;
  port: number;
  /** The configured header names, as a tenant's `external.headers` lists them. */
  headerNames: [string, string];
  /** Headers for a request as `user` with `pass` (default: the user's current password). */
  headersFor(user: string, pass?: string): Record<string, string>;
  /** Calls that reached the check (every mode but down). */
  calls: AuthServiceCall[];
  /** How many calls reached the check. */
  readonly callCount: number;
  readonly mode: AuthServiceMode;
  /** Switches mode; 'down' closes the port, leaving 'down' listens again on the same one. */
  setMode(mode: AuthServiceMode): Promise<void>;
  /** Adds or replaces a user. */
  setUser(name: string, user: AuthUser): void;
  /** Changes a user's password (and the answers for it from now on). */
  setPassword(name: string, pass: string): void;
  removeUser(name: string): void;
  /** expiresIn of every 200 answer from now on (undefined: none). */
  setExpiresIn(seconds: number | undefined): void;
  /** A password shaped `upstream-secret-<hex>`, which the log scan of the e2e run looks for. */
  newPassword(): string;
  /** Closes the port (connections refused). */
  stop(): Promise<void>;
  /** stop(), then listens again on the same port, mode 'up'. */
  restart(): Promise<void>;
}

export const authSecret = () => `upstream-secret-${randomBytes(10).toString('hex')}`;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startAuthService(opts: AuthServiceOptions = {}): Promise<AuthService> {
  const userHeader = opts.userHeader ?? 'X-User';
  const passHeader = opts.passHeader ?? 'X-Pass';
  const users = new Map<string, AuthUser>(Object.entries(opts.users ?? {}));
  const calls: AuthServiceCall[] = [];
  let expiresIn = opts.expiresIn;
  let mode: AuthServiceMode = 'up';
  let garbageTurn = 0;
  /** Requests held open by 'slow' mode, ended on stop(). */
  const held = new Set<ServerResponse>();

  const send = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));

  const check = (res: ServerResponse, values: Record<string, unknown> | undefined) => {
    const value = (name: string) => {
      const v = values?.[name.toLowerCase()] ?? values?.[name];
      return typeof v === 'string' ? v : undefined;
    };
    const name = value(userHeader);
    const pass = value(passHeader);
    if (name === undefined || pass === undefined) {
      return send(res, 401, { error: `${userHeader} and ${passHeader} are required` });
    }
    const user = users.get(name);
    if (!user || user.pass !== pass) return send(res, 401, { error: 'bad credentials' });
    if (user.disabled) return send(res, 403, { error: 'user disabled' });
    send(res, 200, {
      subject: user.subject ?? name,
      scopes: user.scopes,
      ...(expiresIn !== undefined ? { expiresIn } : {}),
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const raw = await readBody(req);
    if (path !== '/check' || req.method !== 'POST') {
      return send(res, 404, { error: 'not found' });
    }
    let body: unknown = raw;
    try {
      body = JSON.parse(raw) as unknown;
    } catch {
      // recorded as text
    }
    const headers =
      body && typeof body === 'object' && !Array.isArray(body)
        ? ((body as { headers?: unknown }).headers as Record<string, unknown> | undefined)
        : undefined;
    calls.push({
      headers: headers && typeof headers === 'object' ? { ...headers } : undefined,
      requestHeaders: { ...req.headers },
      body,
    });
    switch (mode) {
      case 'slow':
        held.add(res);
        res.on('close', () => held.delete(res));
        return;
      case '500':
        return send(res, 500, { error: 'internal error' });
      case 'garbage': {
        const junk = GARBAGE_BODIES[garbageTurn++ % GARBAGE_BODIES.length];
        res.writeHead(200, { 'Content-Type': junk.type }).end(junk.body);
        return;
      }
      case 'up':
      case 'down':
        return check(res, headers && typeof headers === 'object' ? headers : undefined);
    }
  };

  const server: HttpServer = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: (err as Error).message });
      else res.destroy();
    });
  });
  let port = 0;
  let listening = false;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        listening = true;
        resolve();
      });
    });

  const stop = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const res of held) res.destroy();
    held.clear();
    server.closeAllConnections();
    await closed;
    // Let the platform's pooled connections see the FINs before anything listens here again.
    await new Promise((resolve) => setTimeout(resolve, 20));
  };

  await listen();
  const url = `http://127.0.0.1:${port}/check`;

  const service: AuthService = {
    url,
    port,
    headerNames: [userHeader, passHeader],
    headersFor: (user, pass) => ({
      [userHeader]: user,
      [passHeader]: pass ?? users.get(user)?.pass ?? '',
    }),
    calls,
    get callCount() {
      return calls.length;
    },
    get mode() {
      return mode;
    },
    setMode: async (next) => {
      if (next === 'down') {
        mode = next;
        await stop();
        return;
      }
      // Answers held by 'slow' are dropped when it is left: a client that waited gets a reset.
      if (mode === 'slow') {
        for (const res of held) res.destroy();
        held.clear();
      }
      mode = next;
      if (!listening) await listen();
    },
    setUser: (name, user) => void users.set(name, user),
    setPassword: (name, pass) => {
      const user = users.get(name);
      if (!user) throw new Error(`no user ${name}`);
      user.pass = pass;
    },
    removeUser: (name) => void users.delete(name),
    setExpiresIn: (seconds) => {
      expiresIn = seconds;
    },
    newPassword: authSecret,
    stop: async () => {
      mode = 'down';
      await stop();
    },
    restart: async () => {
      await stop();
      mode = 'up';
      await listen();
    },
  };
  return service;
}

/**
 * An auth service for the tests of the enclosing describe block: started before them
 * (beforeAll), stopped after them (afterAll). Its fields are there once the block's tests run.
 */
export function useAuthService(opts: AuthServiceOptions = {}): AuthService {
  const fixture = {} as AuthService;
  let started: AuthService | undefined;
  beforeAll(async () => {
    started = await startAuthService(opts);
    Object.defineProperties(fixture, Object.getOwnPropertyDescriptors(started));
  });
  afterAll(async () => {
    await started?.stop();
  });
  return fixture;
}
