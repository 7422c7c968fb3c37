import { Module } from '@nestjs/common';
import { ConcurrencyLimiter } from './concurrency-limiter';
import { RateLimiter } from './rate-limiter';

@Module({
  providers: [RateLimiter, ConcurrencyLimiter],
  exports: [RateLimiter, ConcurrencyLimiter],
})
export class RateLimitModule {}
