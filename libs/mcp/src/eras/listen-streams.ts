import { markLongLived } from '@app/config';
import { sendJsonRpcError } from '../jsonrpc';
import type { McpExchange } from '../mcp-exchange';

/** Listen streams one credential may hold open at once (the SDK caps a tenant at 1024). */
export const MAX_LISTENS_PER_PRINCIPAL = 8;
/** setTimeout's ceiling (~24.8 days); a later expiry ends the stream then, to be reopened. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a change is remembered for requests authenticated before it (a body read's limit). */
const REMEMBER_MS = 120_000;

interface Stream {
  principalId: string;
  keyId?: string;
  end(): void;
}

/**
 * The `subscriptions/listen` streams this replica holds. A stream is authenticated once, when it
 * opens, so it must end whenever that authentication might no longer hold: its key revoked or
 * changed, its credential expired, a gap in the change feed, or a change that came while its
 * body was still being read. Ending it is cutting it: the client listens again and is
 * authenticated again.
 */
export class ListenStreams {
  private readonly byTenant = new Map<string, Set<Stream>>();
  /** When each tenant's keys or settings last changed. */
  private readonly changedAt = new Map<string, number>();
  private allChangedAt = 0;

  /**
   * Registers the stream of `x` (its response becomes the stream). Returns false when the
   * credential already holds its share of streams; the refusal has been answered.
   */
  open(x: McpExchange, id: unknown): boolean {
    const { req, res } = x;
    const streams = this.byTenant.get(req.tenant.id) ?? new Set<Stream>();
    let mine = 0;
    for (const s of streams) if (s.principalId === req.user.id) mine += 1;
    if (mine >= MAX_LISTENS_PER_PRINCIPAL) {
      res.setHeader('Retry-After', '1');
      sendJsonRpcError(
        res,
        429,
        -32000,
        `too many listen streams: at most ${MAX_LISTENS_PER_PRINCIPAL} per credential; close one before opening another`,
        id,
      );
      return false;
    }
    markLongLived(req);
    this.byTenant.set(req.tenant.id, streams);
    const stream: Stream = {
      principalId: req.user.id,
      keyId: req.user.keyId,
      end: () => res.destroy(),
    };
    streams.add(stream);
    const expiresAt = req.user.expiresAt;
    const expiry =
      expiresAt === undefined
        ? undefined
        : setTimeout(stream.end, Math.min(Math.max(0, expiresAt - Date.now()), MAX_TIMER_MS));
    expiry?.unref();
    res.once('close', () => {
      clearTimeout(expiry);
      streams.delete(stream);
      if (streams.size === 0 && this.byTenant.get(req.tenant.id) === streams) {
        this.byTenant.delete(req.tenant.id);
      }
    });
    const changed = Math.max(this.changedAt.get(req.tenant.id) ?? 0, this.allChangedAt);
    if (changed >= x.arrivedAt) stream.end();
    return true;
  }

  /** A key of the tenant changed (revoked, rotated, rescoped): its streams end. */
  keyChanged(tenantId: string, keyId: string): void {
    this.noteChange(tenantId);
    for (const s of [...(this.byTenant.get(tenantId) ?? [])]) if (s.keyId === keyId) s.end();
  }

  /** The tenant changed; the caller decides whether its streams end. */
  tenantChanged(tenantId: string): void {
    this.noteChange(tenantId);
  }

  /** Changes may have been missed (a gap in the change feed): every stream ends. */
  allChanged(): void {
    this.allChangedAt = Date.now();
    for (const streams of [...this.byTenant.values()]) for (const s of [...streams]) s.end();
  }

  private noteChange(tenantId: string): void {
    const now = Date.now();
    this.changedAt.delete(tenantId);
    this.changedAt.set(tenantId, now);
    // Oldest first: forget what no request still being read can predate.
    for (const [id, at] of this.changedAt) {
      if (now - at < REMEMBER_MS) break;
      this.changedAt.delete(id);
    }
  }
}
