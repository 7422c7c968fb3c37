import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Resolves with the first value `check` returns that is not undefined, polling every
 * `intervalMs` until `ms` have passed; then fails, naming `what` and the last error `check` threw.
 */
export async function pollUntil<T>(
  ms: number,
  what: string,
  check: () => Promise<T | undefined>,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + ms;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? ` (last error: ${(lastError as Error).message})` : '';
      throw new Error(`${what}: not within ${ms} ms${why}`);
    }
    await sleep(intervalMs);
  }
}

/** Resolves when `promise` does, or rejects after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: number }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: number };
  }
  throw new Error('expected the promise to reject, but it resolved');
}

// ---------------------------------------------------------------------------------------------
// Responses

export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown> & {
    isError?: boolean;
    content?: { type: string; text?: string }[];
    structuredContent?: Record<string, unknown>;
    tools?: { name: string }[];
  };
  error?: { code: number; message: string; data?: unknown };
}

/** A response read whole. */
export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body when it was JSON, else undefined. */
  json: unknown;
  /** JSON-RPC messages of the body: the JSON body itself, or every `data:` of an event stream. */
  messages: JsonRpcMessage[];
  /** Wall time from sending to the end of the body. */
  ms: number;
}

/** The JSON-RPC messages of an event stream: one per event, its `data:` lines joined. */
export function parseEventStream(text: string): JsonRpcMessage[] {
  const out: JsonRpcMessage[] = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data.trim()) out.push(JSON.parse(data) as JsonRpcMessage);
  }
  return out;
}

function decode(res: IncomingMessage, body: Buffer, started: number): RawResponse {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    for (const v of Array.isArray(value) ? value : [value ?? '']) headers.append(name, v);
  }
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  let messages: JsonRpcMessage[] = [];
  if ((headers.get('content-type') ?? '').includes('text/event-stream')) {
    try {
      messages = parseEventStream(text);
    } catch {
      messages = [];
    }
  } else if (json && typeof json === 'object' && 'jsonrpc' in json) {
    messages = [json as JsonRpcMessage];
  }
  return { status: res.statusCode ?? 0, headers, text, json, messages, ms: Date.now() - started };
}

// ---------------------------------------------------------------------------------------------
// Requests

export interface HttpRequest {
  method?: string;
  /** Sent exactly as given: no URL normalisation, so `..`, `%00` and friends arrive as written. */
  path: string;
  /** An array value sends the header once per element. */
  headers?: Record<string, string | string[]>;
  /** A string or Buffer is sent as is; anything else as JSON (Content-Type defaults to JSON). */
  body?: unknown;
  timeoutMs?: number;
}

function prepare(base: string, init: HttpRequest) {
  const url = new URL(base);
  const body =
    init.body === undefined
      ? undefined
      : typeof init.body === 'string' || Buffer.isBuffer(init.body)
        ? init.body
        : JSON.stringify(init.body);
  const named = new Set(Object.keys(init.headers ?? {}).map((h) => h.toLowerCase()));
  return {
    host: url.hostname,
    port: url.port,
    method: init.method ?? 'GET',
    path: init.path,
    // A fresh connection per request: a process that went away shows up as ECONNREFUSED, not as
    // a reused socket.
    agent: false as const,
    headers: {
      ...(body !== undefined && !named.has('content-type')
        ? { 'Content-Type': 'application/json' }
        : {}),
      ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}),
      ...init.headers,
    },
    body,
  };
}

/** One HTTP request on a fresh connection, read whole, with a hard timeout (15 s by default). */
export function http(base: string, init: HttpRequest): Promise<RawResponse> {
  const { body, ...options } = prepare(base, init);
  const timeoutMs = init.timeoutMs ?? 15_000;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(decode(res, Buffer.concat(chunks), started)));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`${options.method} ${init.path}: no answer within ${timeoutMs} ms`)),
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export interface HeldRequest {
  /** Settles once the connection is up and the headers and the first part of the body are sent. */
  sent: Promise<void>;
  /** Sends the rest of the body. */
  release(): void;
  /** Sends more bytes without finishing the body (a client trickling its request). */
  write(chunk: string): void;
  /** Drops the connection. */
  destroy(): void;
  /** The answer, or the connection error (e.g. ECONNRESET) as `error`. */
  result: Promise<{ res?: RawResponse; error?: NodeJS.ErrnoException }>;
  /** What `result` settled with, if it has. */
  answered(): { res?: RawResponse; error?: NodeJS.ErrnoException } | undefined;
}

/**
 * A request that is in flight for as long as the test wants: the headers and the first `hold`
 * bytes of the body (half by default) go out at once, the rest only on release(). The server has
 * accepted the connection and is reading the body meanwhile.
 */
export function heldRequest(base: string, init: HttpRequest & { hold?: number }): HeldRequest {
  const { body, ...options } = prepare(base, { method: 'POST', ...init });
  const bytes = Buffer.from(body ?? '');
  const first = init.hold ?? Math.floor(bytes.length / 2);
  let req!: ClientRequest;
  let settled: { res?: RawResponse; error?: NodeJS.ErrnoException } | undefined;
  let sent!: () => void;
  const sentP = new Promise<void>((r) => (sent = r));
  const started = Date.now();
  const result = new Promise<{ res?: RawResponse; error?: NodeJS.ErrnoException }>((resolve) => {
    const settle = (outcome: { res?: RawResponse; error?: NodeJS.ErrnoException }) => {
      settled ??= outcome;
      resolve(outcome);
    };
    req = httpRequest(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (error: NodeJS.ErrnoException) => settle({ error }));
      res.on('aborted', () =>
        settle({ error: Object.assign(new Error('response aborted'), { code: 'ABORTED' }) }),
      );
      res.on('end', () => {
        if (res.complete) settle({ res: decode(res, Buffer.concat(chunks), started) });
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      sent();
      settle({ error });
    });
    req.setTimeout(60_000, () => req.destroy(new Error('no answer within 60 s')));
    req.write(bytes.subarray(0, first), () => sent());
  });
  return {
    sent: sentP,
    release: () => req.end(bytes.subarray(first)),
    write: (chunk) => {
      if (req.writable) req.write(chunk);
    },
    destroy: () => req.destroy(),
    result,
    answered: () => settled,
  };
}
