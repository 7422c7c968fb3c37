import { QueryFailedError } from 'typeorm';

const CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300', // too_many_connections
]);
const MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection ended unexpectedly',
  'the database system is shutting down',
  'the database system is starting up',
  // pg's client-side query_timeout: the server did not answer in time (hung, or unreachable
  // without the connection failing). The connection is closed after it (TimeoutClosingClient).
  'Query read timeout',
  // A query on a client that was closed (after a read timeout) or whose socket died.
  'Client was closed and is not queryable',
];

/** True when an error means "the database cannot be reached right now", not "this query is wrong". */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = (err instanceof QueryFailedError ? err.driverError : err) as
    { code?: string; message?: string; errors?: unknown[] } | undefined;
  if (!e) return false;
  if (typeof e.code === 'string' && CODES.has(e.code)) return true;
  if (Array.isArray(e.errors) && e.errors.some(isDatabaseUnavailable)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return MESSAGES.some((m) => message.includes(m));
}
