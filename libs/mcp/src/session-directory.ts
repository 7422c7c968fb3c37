import { Logger } from '@nestjs/common';
import Redis from 'ioredis';

/** What another replica needs to serve a session's plain requests: whose it is. */
export interface SessionRecord {
  id: string;
  tenantId: string;
  principalId: string;
  keyId?: string;
  /** Last use anywhere, in ms since the epoch. */
  lastSeen: number;
}

/**
 * Sessions known across replicas. Without Redis there is nothing to share and every method is a
 * no-op; with REDIS_URL the records live in Redis, expiring when idle. (Endings reach the replica
 * holding a session through the ChangeFeed, which uses Redis then too.)
 */
export abstract class SessionDirectory {
  abstract readonly shared: boolean;
  abstract announce(record: SessionRecord): Promise<void>;
  abstract lookup(id: string): Promise<SessionRecord | undefined>;
  abstract end(id: string): Promise<void>;
  /**
   * True the first time a token is claimed within `ttlMs`, false ever after (a used one-time
   * token, e.g. a sealed request state). Across replicas when they share Redis; a Redis outage
   * answers false: refusing a retry is safer than accepting a replay.
   */
  abstract claimOnce(token: string, ttlMs: number): Promise<boolean>;
  abstract close(): Promise<void>;
}

/** One-time tokens claimed in this process, forgotten when they expire. */
class LocalClaims {
  private readonly claimed = new Map<string, number>();

  claim(token: string, ttlMs: number): boolean {
    const now = Date.now();
    if (this.claimed.size >= 10_000) {
      for (const [t, until] of this.claimed) if (until <= now) this.claimed.delete(t);
    }
    const until = this.claimed.get(token);
    if (until !== undefined && until > now) return false;
    this.claimed.set(token, now + ttlMs);
    return true;
  }
}

export class LocalSessionDirectory extends SessionDirectory {
  readonly shared = false;
  private readonly claims = new LocalClaims();
  claimOnce(token: string, ttlMs: number): Promise<boolean> {
    return Promise.resolve(this.claims.claim(token, ttlMs));
  }
  announce(): Promise<void> {
    return Promise.resolve();
  }
  lookup(): Promise<SessionRecord | undefined> {
    return Promise.resolve(undefined);
  }
  end(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const KEY = (id: string) => `mcp:session:${id}`;

export class RedisSessionDirectory extends SessionDirectory {
  readonly shared = true;
  private readonly logger = new Logger('Sessions');
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly idleTtlMs: number,
  ) {
    super();
    this.redis = new Redis(url, {
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      enableOfflineQueue: false,
    });
    this.redis.on('error', () => undefined);
  }

  async announce(record: SessionRecord): Promise<void> {
    try {
      await this.redis.set(KEY(record.id), JSON.stringify(record), 'PX', this.idleTtlMs);
    } catch (err) {
      this.logger.warn(`could not share session ${record.id}: ${(err as Error).message}`);
    }
  }

  /** Unknown, expired, unreadable, or Redis away: undefined (the caller answers 404). */
  async lookup(id: string): Promise<SessionRecord | undefined> {
    try {
      const raw = await this.redis.get(KEY(id));
      if (!raw) return undefined;
      const r = JSON.parse(raw) as Partial<SessionRecord>;
      if (r.id !== id || typeof r.tenantId !== 'string' || typeof r.principalId !== 'string') {
        return undefined;
      }
      return r as SessionRecord;
    } catch (err) {
      this.logger.warn(`could not look up session ${id}: ${(err as Error).message}`);
      return undefined;
    }
  }

  async end(id: string): Promise<void> {
    try {
      await this.redis.del(KEY(id));
    } catch (err) {
      this.logger.warn(`could not end shared session ${id}: ${(err as Error).message}`);
    }
  }

  async claimOnce(token: string, ttlMs: number): Promise<boolean> {
    try {
      return (await this.redis.set(`mcp:claim:${token}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
    } catch (err) {
      this.logger.warn(`could not claim a one-time token: ${(err as Error).message}`);
      return false;
    }
  }

  close(): Promise<void> {
    this.redis.disconnect();
    return Promise.resolve();
  }
}
