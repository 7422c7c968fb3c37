import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import pino from 'pino';
import { PlatformConfig } from '@app/config';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Paths whose values never reach a log line, wherever they appear. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'password',
  '*.password',
  'adminToken',
  '*.adminToken',
];

/** The path of a URL with every query value masked: credentials sometimes arrive there. */
export function loggableUrl(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  if (q === -1) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  const names = [...new Set(params.keys())].map((k) => `${encodeURIComponent(k)}=[redacted]`);
  return `${url.slice(0, q)}?${names.join('&')}`;
}

/** Assigns the request id before anything else runs, so every response carries it. */
export function requestIdMiddleware(
  req: IncomingMessage,
  res: ServerResponse,
  next: () => void,
): void {
  requestId(req, res);
  next();
}

export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const assigned = res.getHeader('X-Request-Id');
  if (typeof assigned === 'string') return assigned;
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-Id', id);
  // Handlers further down (the MCP SDK) only see request headers.
  req.headers['x-request-id'] = id;
  return id;
}

export function loggerParams(config: PlatformConfig): Params {
  // Asynchronous writes keep logging off the request path; pino flushes them on exit.
  const stream = pino.destination({
    dest: config.logFile ?? 1,
    sync: false,
    mkdir: true,
    append: true,
  });
  return {
    pinoHttp: {
      stream,
      level: config.logLevel,
      genReqId: requestId,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: {
        req: (req: IncomingMessage & { id?: string }) => ({
          id: req.id,
          method: req.method,
          url: loggableUrl(req.url),
          userAgent: req.headers['user-agent'],
        }),
        res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
      // Clients' mistakes are routine; only the server's own failures are warnings.
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    },
  };
}
