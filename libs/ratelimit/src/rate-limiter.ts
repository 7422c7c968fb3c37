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

export type LimitName =
  | 'key'
  | 'tenant'
  | 'auth-failures'
  | 'admin-auth-failures'
  | 'tenant-concurrency'
  | 'key-concurrency';

export class RateLimited extends HttpException {
  constructor(
    readonly limit: LimitName,
    message: string,
    /** Seconds, for a Retry-After header the thrower has not set itself. */
    readonly retryAfter?: number,
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

  /**
   * Counts a presented credential that was refused, per client address (platform-admin tokens in
   * a bucket of their own). Returns the 429 to answer instead of the 401 once the address is past
   * its allowance. Only refusals count and only refusals are limited: a valid credential from the
   * same address is never turned away.
   */
  async recordAuthFailure(address: string, admin: boolean): Promise<RateLimited | undefined> {
    const limit: LimitName = admin ? 'admin-auth-failures' : 'auth-failures';
    const perMinute = admin
      ? this.config.adminAuthFailuresPerMinute
      : this.config.authFailuresPerMinute;
    if (perMinute <= 0) return undefined;
    const result = await this.safely(() =>
      this.store.take(`${limit}:${address}`, { limit: perMinute, windowMs: MINUTE }),
    );
    if (!result || result.allowed) return undefined;
    const retry = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
    return new RateLimited(
      limit,
      `too many refused ${admin ? 'admin tokens' : 'credentials'} from this address; retry in ${retry} s (valid credentials are not affected)`,
      retry,
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
