import {
  HttpException,
  HttpStatus,
  Injectable,
  Logger,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { Response } from 'express';
import { PlatformConfig } from '@app/config';
import { RedisBucketStore } from './redis-bucket-store';
import { BucketResult, BucketStore, MemoryBucketStore } from './token-bucket';

const MINUTE = 60_000;

export type LimitName = 'key' | 'tenant' | 'auth-failures';

export class RateLimited extends HttpException {
  constructor(
    readonly limit: LimitName,
    message: string,
  ) {
    super(message, HttpStatus.TOO_MANY_REQUESTS);
  }
}

/**
 * Token buckets per key, per tenant and per client address for failed authentications; in memory,
 * or in Redis when REDIS_URL is set. If Redis is unreachable requests are let through (and logged):
 * a limiter outage should not become a platform outage.
 */
@Injectable()
export class RateLimiter implements OnApplicationShutdown {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly store: BucketStore;
  private lastWarning = 0;

  constructor(private readonly config: PlatformConfig) {
    this.store = config.redisUrl ? new RedisBucketStore(config.redisUrl) : new MemoryBucketStore();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }

  /** Takes one token from the bucket, or throws 429 with Retry-After and RateLimit headers. */
  async consume(res: Response, limit: LimitName, key: string, perMinute: number): Promise<void> {
    if (perMinute <= 0) return;
    const result = await this.safely(() =>
      this.store.take(`${limit}:${key}`, { limit: perMinute, windowMs: MINUTE }),
    );
    if (!result) return;
    setHeaders(res, perMinute, result);
    if (!result.allowed) {
      throw new RateLimited(
        limit,
        `rate limit of ${perMinute} requests per minute per ${limit === 'key' ? 'credential' : 'tenant'} exceeded; retry in ${Math.ceil(result.retryAfterMs / 1000)} s`,
      );
    }
  }

  /** Refuses a client address that has used up its failed-authentication allowance. */
  async assertAuthAllowed(res: Response, address: string): Promise<void> {
    const perMinute = this.config.authFailuresPerMinute;
    if (perMinute <= 0) return;
    const spec = { limit: perMinute, windowMs: MINUTE };
    const tokens = await this.safely(() => this.store.peek(`auth-failures:${address}`, spec));
    if (tokens === undefined || tokens >= 1) return;
    const retry = Math.ceil((1 - tokens) / (perMinute / MINUTE) / 1000);
    res.setHeader('Retry-After', String(retry));
    throw new RateLimited(
      'auth-failures',
      `too many failed authentications from this address; retry in ${retry} s`,
    );
  }

  async recordAuthFailure(address: string): Promise<void> {
    const perMinute = this.config.authFailuresPerMinute;
    if (perMinute <= 0) return;
    await this.safely(() =>
      this.store.take(`auth-failures:${address}`, { limit: perMinute, windowMs: MINUTE }),
    );
  }

  private async safely<T>(op: () => Promise<T>): Promise<T | undefined> {
    try {
      return await op();
    } catch (err) {
      if (Date.now() - this.lastWarning > 10_000) {
        this.lastWarning = Date.now();
        this.logger.warn(`rate limiter store unavailable, not limiting: ${(err as Error).message}`);
      }
      return undefined;
    }
  }
}

function setHeaders(res: Response, limit: number, r: BucketResult): void {
  res.setHeader('RateLimit-Limit', String(limit));
  res.setHeader('RateLimit-Remaining', String(r.remaining));
  res.setHeader('RateLimit-Reset', String(Math.ceil(r.resetMs / 1000)));
  if (!r.allowed)
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))));
}
