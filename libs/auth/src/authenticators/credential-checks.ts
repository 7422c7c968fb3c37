import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { AuthUnavailable } from '../refusal';

/** Outbound credential checks one tenant may have waiting at once. */
export const MAX_PENDING_CHECKS_PER_TENANT = 64;

interface Kept<V> {
  readonly value: V;
  /** Date.now() after which the answer is not served, whatever the LRU's own clock says. */
  readonly until: number;
}

/**
 * The answers of an outbound credential check (a tenant's auth service, an introspection
 * endpoint), kept under an HMAC of the credential with a key of this process, never the
 * credential. Identical checks in flight share one call. A tenant's checks waiting at once are
 * capped: anyone can send fresh credentials to a tenant's endpoint, and past the cap they are
 * answered 503 at once instead of piling up sockets and memory here (and calls at the tenant's
 * service) while that service is slow.
 */
export class CredentialChecks<V> {
  private readonly hmacKey = randomBytes(32);
  private readonly kept = new LRUCache<string, Kept<V>>({ max: 10_000 });
  private readonly inflight = new Map<string, Promise<V>>();
  private readonly pending = new Map<string, number>();

  constructor(
    private readonly what: string,
    private readonly maxPending = MAX_PENDING_CHECKS_PER_TENANT,
  ) {}

  /** Each part length-prefixed, so that no two different lists of parts make one key. */
  key(...parts: readonly string[]): string {
    const hmac = createHmac('sha256', this.hmacKey);
    for (const part of parts) {
      const bytes = Buffer.from(part, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      hmac.update(length).update(bytes);
    }
    return hmac.digest('hex');
  }

  /**
   * The kept answer for `key` (whose parts should name the tenant), or the one `check` running for
   * it; what it answers is kept until `until`.
   */
  answer(tenantId: string, key: string, check: () => Promise<Kept<V>>): Promise<V> {
    const kept = this.kept.get(key);
    if (kept && kept.until > Date.now()) return Promise.resolve(kept.value);
    if (kept) this.kept.delete(key);
    let running = this.inflight.get(key);
    if (!running) {
      running = this.run(tenantId, check)
        .then(({ value, until }) => {
          const ttl = Math.ceil(until - Date.now());
          if (ttl > 0) this.kept.set(key, { value, until }, { ttl });
          return value;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, running);
    }
    return running;
  }

  private run<T>(tenantId: string, check: () => Promise<T>): Promise<T> {
    const n = this.pending.get(tenantId) ?? 0;
    if (n >= this.maxPending) {
      return Promise.reject(
        new AuthUnavailable(
          `too many credential checks are waiting on the ${this.what}; try again shortly`,
          1,
        ),
      );
    }
    this.pending.set(tenantId, n + 1);
    return check().finally(() => {
      const left = (this.pending.get(tenantId) ?? 1) - 1;
      if (left > 0) this.pending.set(tenantId, left);
      else this.pending.delete(tenantId);
    });
  }
}

/** A URL for a log line: without userinfo, query and fragment. */
export function printableUrl(url: string): string {
  if (!URL.canParse(url)) return '(an unparsable URL)';
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
}

/** The system error code (ECONNREFUSED…) that undici wraps in `cause`, for the operator's log. */
export function causeCode(err: unknown): string | undefined {
  const code = err instanceof Error && (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
