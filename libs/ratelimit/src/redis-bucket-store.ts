import Redis from 'ioredis';
import { BucketResult, bucketResult, BucketSpec, BucketStore } from './token-bucket';

// Refill, take and store atomically, so every replica draws from the same bucket.
const TAKE = `
local cap = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local t = tonumber(b[1])
local ts = tonumber(b[2])
if t == nil then t = cap; ts = now end
t = math.min(cap, t + math.max(0, now - ts) * perMs)
local allowed = 0
if cost > 0 and t >= cost then t = t - cost; allowed = 1 end
if cost > 0 then
  redis.call('HSET', KEYS[1], 't', tostring(t), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(cap / perMs) + 1000)
end
return {allowed, tostring(t)}
`;

type Taker = Redis & {
  bucketTake(
    key: string,
    cap: number,
    perMs: number,
    now: number,
    cost: number,
  ): Promise<[number, string]>;
};

/** Buckets shared by every replica through Redis. */
export class RedisBucketStore implements BucketStore {
  private readonly redis: Taker;

  constructor(url: string) {
    this.redis = new Redis(url, {
      lazyConnect: false,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2_000,
    }) as Taker;
    this.redis.on('error', () => undefined);
    this.redis.defineCommand('bucketTake', { numberOfKeys: 1, lua: TAKE });
  }

  async take(key: string, spec: BucketSpec, cost = 1): Promise<BucketResult> {
    const [allowed, tokens] = await this.redis.bucketTake(
      `mcp:rl:${key}`,
      spec.limit,
      spec.limit / spec.windowMs,
      Date.now(),
      cost,
    );
    return bucketResult(Number(tokens), allowed === 1, spec);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    return Promise.resolve();
  }
}
