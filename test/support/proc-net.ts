import { type IncomingMessage, request as httpRequest } from 'node:http';
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

/** Resolves with the first value `check` returns that is not undefined, polling until `ms`. */
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

/** A finished response as the helpers report it: text, JSON if it is, JSON-RPC messages. */
function decodeResponse(res: IncomingMessage, chunks: Buffer[], started: number): HttpResult {
  const text = Buffer.concat(chunks).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  let messages: JsonRpcMessage[] = [];
  try {
    messages = parseMessages(String(res.headers['content-type'] ?? ''), text, json);
  } catch {
    messages = [];
  }
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    text,
    json,
    messages,
    ms: Date.now() - started,
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
  /** JSON-RPC messages: the JSON body itself, or every `data:` of an event stream. */
  messages: JsonRpcMessage[];
  /** Wall time from sending to the end of the body. */
  ms: number;
}

export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: string | number | null;
  result?: Record<string, unknown> & {
    isError?: boolean;
    content?: { type: string; text?: string }[];
    structuredContent?: Record<string, unknown>;
    tools?: { name: string }[];
  };
  error?: { code: number; message: string };
}

function parseMessages(type: string, text: string, json: unknown): JsonRpcMessage[] {
  if (type.includes('text/event-stream')) {
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
  return json && typeof json === 'object' && 'jsonrpc' in json ? [json as JsonRpcMessage] : [];
}

/**
 * One HTTP request on a fresh connection (no keep-alive pool, so a process that went away shows
 * up as ECONNREFUSED, not as a reused socket), read whole, with a hard timeout.
 */
export function http(
  base: string,
  init: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: unknown;
    timeoutMs?: number;
  },
): Promise<HttpResult> {
  const url = new URL(init.path, base);
  const body =
    init.body === undefined
      ? undefined
      : typeof init.body === 'string'
        ? init.body
        : JSON.stringify(init.body);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: init.method ?? 'GET',
        path: `${url.pathname}${url.search}`,
        agent: false,
        headers: {
          ...(body !== undefined
            ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }
            : {}),
          ...init.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(decodeResponse(res, chunks, started)));
        res.on('error', reject);
      },
    );
    req.setTimeout(init.timeoutMs ?? 15_000, () =>
      req.destroy(
        new Error(
          `${init.method ?? 'GET'} ${init.path}: no answer within ${init.timeoutMs ?? 15_000} ms`,
        ),
      ),
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export interface HeldRequest {
  /** Settles once the connection is up and the headers and first part of the body are sent. */
  sent: Promise<void>;
  /** Sends the rest of the body. */
  release(): void;
  /** The answer, or the connection error (e.g. ECONNRESET) as `error`. */
  result: Promise<{ res?: HttpResult; error?: NodeJS.ErrnoException }>;
}

/**
 * A request that is in flight for as long as the test wants: the headers and the first half of
 * the body go out at once, the rest only on release(). The server has accepted the connection
 * and is reading the body meanwhile.
 */
export function heldRequest(
  base: string,
  init: { method?: string; path: string; headers?: Record<string, string>; body: unknown },
): HeldRequest {
  const url = new URL(init.path, base);
  const body = Buffer.from(JSON.stringify(init.body));
  const half = Math.floor(body.length / 2);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let sent!: () => void;
  const sentP = new Promise<void>((r) => (sent = r));
  const started = Date.now();
  const result = new Promise<{ res?: HttpResult; error?: NodeJS.ErrnoException }>((resolve) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: init.method ?? 'POST',
        path: `${url.pathname}${url.search}`,
        agent: false,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': body.length,
          ...init.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ error }));
        res.on('aborted', () =>
          resolve({ error: Object.assign(new Error('response aborted'), { code: 'ABORTED' }) }),
        );
        res.on('end', () => {
          if (!res.complete) return;
          resolve({ res: decodeResponse(res, chunks, started) });
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      sent();
      resolve({ error });
    });
    req.setTimeout(60_000, () => req.destroy(new Error('no answer within 60 s')));
    req.write(body.subarray(0, half), () => sent());
    void released.then(() => req.end(body.subarray(half)));
  });
  return { sent: sentP, release, result };
}
