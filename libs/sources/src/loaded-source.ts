import type {
  CatalogTool,
  McpSourceConfig,
  OpenApiSourceConfig,
  SkippedTool,
  SourceSecrets,
} from './tool-source.entity';

/** A source as the connectors see it: its settings with the secrets opened, in memory only. */
export interface LoadedSource<C = McpSourceConfig | OpenApiSourceConfig> {
  id: string;
  tenantId: string;
  name: string;
  /** Changes whenever the source is saved: pooled connections of older versions are dropped. */
  version: number;
  config: C;
  secrets: SourceSecrets;
}

export interface ReadCatalog {
  tools: CatalogTool[];
  skipped: SkippedTool[];
}

/** An upstream could not be reached or did not answer properly; the message says which and why. */
export class UpstreamError extends Error {}

/** Most tools one source may bring, and the largest schema one tool may declare. */
export const MAX_TOOLS_PER_SOURCE = 500;
export const MAX_SCHEMA_BYTES = 64 * 1024;
export const MAX_DESCRIPTION_CHARS = 4096;

/** The text of an upstream's failure that is safe to show a tenant admin or a model. */
export function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return 'unknown error';
  // fetch and the SDK wrap the socket's error: the innermost code says what happened.
  let code: unknown;
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && /^E[A-Z]+$/.test(c)) code = c;
    e = (e as { cause?: unknown }).cause;
  }
  if (typeof code === 'string') {
    const what: Record<string, string> = {
      ECONNREFUSED: 'connection refused',
      ECONNRESET: 'connection reset',
      ETIMEDOUT: 'connection timed out',
      ENOTFOUND: 'host not found',
      EHOSTUNREACH: 'host unreachable',
    };
    return what[code] ?? code;
  }
  if (err.name === 'TimeoutError') return 'timed out';
  // fetch's own message says nothing; its cause says why (e.g. "bad port").
  const cause = (err as { cause?: unknown }).cause;
  if (err.message === 'fetch failed' && cause instanceof Error) return cause.message.slice(0, 300);
  if (err.name === 'AbortError') return 'cancelled';
  return err.message.slice(0, 300);
}
