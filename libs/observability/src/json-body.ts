import type { IncomingMessage, ServerResponse } from 'node:http';
import { json } from 'body-parser';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** Thrown by a reader's `inspect` to refuse a body from its raw bytes, before it is parsed. */
export class BodyRefused extends Error {
  /** body-parser keeps an error's `type`; it is how a refusal is told from its own errors. */
  readonly type = 'body.refused';

  constructor(
    readonly status: number,
    /** JSON-RPC error code, for routes that answer in JSON-RPC. */
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** What a refusal is answered with (an error object without the cost of a stack trace). */
export interface BodyRefusal {
  status: number;
  code: number;
  message: string;
}

export type BodyOutcome =
  | { ok: true }
  | {
      ok: false;
      status: number;
      code: number;
      message: string;
      /** The client is gone or was cut off: there is nobody to answer. */
      gone?: boolean;
    };

export interface JsonBodyReaderOptions {
  /** Time allowed for the whole body to arrive; a trickled body is cut off after it. */
  timeoutMs: number;
  /** Largest body in bytes (default 1 MiB), read when the request is handled. */
  limit?: () => number;
  /** The refusal for a body over `limit`; the default says the body is over the limit. */
  tooLarge?: (bytes: number, limit: number) => BodyRefusal;
  /** Sees the raw bytes before they are parsed; throws BodyRefused to refuse them. */
  inspect?: (raw: Buffer, req: IncomingMessage) => void;
}

interface ParserError {
  type?: string;
  status?: number;
  message?: string;
}

const PARSE_FAILED = {
  status: 400,
  code: -32700,
  message: 'Parse error: the request body is not valid JSON',
};
const TOO_LARGE = {
  status: 413,
  code: -32600,
  message: 'request body is larger than the 1 MiB limit',
};

function describe(err: ParserError): Omit<Extract<BodyOutcome, { ok: false }>, 'ok'> {
  if (err instanceof BodyRefused)
    return { status: err.status, code: err.code, message: err.message };
  switch (err.type) {
    case 'entity.parse.failed':
      return PARSE_FAILED;
    case 'entity.too.large':
      return TOO_LARGE;
    case 'request.aborted':
      return { status: 400, code: -32600, message: 'request aborted', gone: true };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { status: 415, code: -32600, message: err.message ?? 'unsupported body encoding' };
    case undefined:
    default: {
      const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 400;
      return { status, code: -32600, message: err.message ?? 'the request body could not be read' };
    }
  }
}

/**
 * Reads and parses a JSON body with body-parser's own rules (content types, charsets, inflation,
 * 1 MiB limit), on demand. The platform calls it after authentication, so a body sent without
 * valid credentials is never parsed; and cuts off a body that has not arrived within the timeout.
 */
export function createJsonBodyReader(
  options: JsonBodyReaderOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<BodyOutcome> {
  const inspect = options.inspect;
  const parsers = new Map<number, ReturnType<typeof json>>();
  const parserFor = (limit: number) => {
    let parser = parsers.get(limit);
    if (!parser) {
      parser = json({
        limit,
        type: ['application/json', 'application/*+json'],
        verify: inspect ? (req, _res, buf) => inspect(buf, req) : undefined,
      });
      parsers.set(limit, parser);
    }
    return parser;
  };
  const tooLarge = (bytes: number, limit: number): BodyOutcome => {
    const refusal = options.tooLarge?.(bytes, limit);
    return refusal
      ? { ok: false, status: refusal.status, code: refusal.code, message: refusal.message }
      : { ok: false, ...TOO_LARGE };
  };
  return (req, res) => {
    const limit = options.limit?.() ?? BODY_LIMIT_BYTES;
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      // Refused unread; closing the connection spares reading what is still on its way.
      res.setHeader('Connection', 'close');
      return Promise.resolve(tooLarge(declared, limit));
    }
    return new Promise<BodyOutcome>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        resolve({
          ok: false,
          status: 408,
          code: -32600,
          message: `the request body did not arrive within ${Math.round(options.timeoutMs / 1000)} s`,
          gone: true,
        });
        if (!res.headersSent) {
          res.writeHead(408, { Connection: 'close', 'Content-Type': 'application/json' });
          res.end(
            JSON.stringify({
              statusCode: 408,
              error: 'Request Timeout',
              message: 'the request body did not arrive in time',
            }),
          );
        }
        req.socket.destroy();
      }, options.timeoutMs);
      parserFor(limit)(req, res, (err?: unknown) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        const e = err as ParserError | undefined;
        if (e?.type === 'entity.too.large') {
          res.setHeader('Connection', 'close');
          return resolve(tooLarge((e as { length?: number }).length ?? limit + 1, limit));
        }
        resolve(e ? { ok: false, ...describe(e) } : { ok: true });
      });
    });
  };
}
