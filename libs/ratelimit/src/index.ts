export * from './concurrency-limiter';
export * from './rate-limiter';
export * from './ratelimit.module';
export * from './token-bucket';
