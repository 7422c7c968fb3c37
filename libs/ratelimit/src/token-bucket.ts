export interface BucketResult {
  allowed: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Milliseconds until one token is available again (0 when allowed). */
  retryAfterMs: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
}

/** Capacity `limit` tokens, refilled at `limit` per `windowMs`: never more than `limit` at once. */
export interface BucketSpec {
  limit: number;
  windowMs: number;
}

export interface BucketStore {
  take(key: string, spec: BucketSpec, cost?: number): Promise<BucketResult>;
  close(): Promise<void>;
}

export function bucketResult(tokens: number, allowed: boolean, spec: BucketSpec): BucketResult {
  const perMs = spec.limit / spec.windowMs;
  return {
    allowed,
    remaining: Math.max(0, Math.floor(tokens)),
    retryAfterMs: allowed ? 0 : Math.ceil((1 - tokens) / perMs),
    resetMs: Math.ceil((spec.limit - tokens) / perMs),
  };
}

/** Per-process buckets. */
export class MemoryBucketStore implements BucketStore {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  take(key: string, spec: BucketSpec, cost = 1): Promise<BucketResult> {
    const tokens = this.refill(key, spec);
    const allowed = tokens >= cost;
    const left = allowed ? tokens - cost : tokens;
    this.buckets.set(key, { tokens: left, at: this.now() });
    return Promise.resolve(bucketResult(left, allowed, spec));
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    return Promise.resolve();
  }

  private refill(key: string, spec: BucketSpec): number {
    const b = this.buckets.get(key);
    if (!b) return spec.limit;
    return Math.min(spec.limit, b.tokens + ((this.now() - b.at) * spec.limit) / spec.windowMs);
  }

  /** Buckets idle for a few minutes are full again; forgetting them changes nothing. */
  private sweep(): void {
    const cutoff = this.now() - 10 * 60_000;
    for (const [k, b] of this.buckets) if (b.at < cutoff) this.buckets.delete(k);
  }
}
