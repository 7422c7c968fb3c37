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
  abstract close(): Promise<void>;
}

export class LocalSessionDirectory extends SessionDirectory {
  readonly shared = false;
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

  close(): Promise<void> {
    this.redis.disconnect();
    return Promise.resolve();
  }
}
