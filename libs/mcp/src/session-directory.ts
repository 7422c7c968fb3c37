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
 * no-op; with REDIS_URL the records live in Redis (expiring when idle) and endings are broadcast.
 */
export abstract class SessionDirectory {
  abstract readonly shared: boolean;
  abstract announce(record: SessionRecord): Promise<void>;
  abstract lookup(id: string): Promise<SessionRecord | undefined>;
  /** Removes the record and tells every replica, so the one holding the session closes it. */
  abstract end(id: string): Promise<void>;
  abstract onEnded(listener: (id: string) => void): void;
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
  onEnded(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const KEY = (id: string) => `mcp:session:${id}`;
const ENDED_CHANNEL = 'mcp:session-ended';

export class RedisSessionDirectory extends SessionDirectory {
  readonly shared = true;
  private readonly logger = new Logger('Sessions');
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly listeners: ((id: string) => void)[] = [];
  private subscribed?: Promise<unknown>;

  constructor(
    url: string,
    private readonly idleTtlMs: number,
  ) {
    super();
    const opts = { maxRetriesPerRequest: 1, connectTimeout: 2_000 };
    this.redis = new Redis(url, { ...opts, enableOfflineQueue: false });
    this.sub = new Redis(url, opts);
    this.redis.on('error', () => undefined);
    this.sub.on('error', () => undefined);
    this.sub.on('message', (channel: string, id: string) => {
      if (channel === ENDED_CHANNEL) for (const l of this.listeners) l(id);
    });
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
      await this.redis.publish(ENDED_CHANNEL, id);
    } catch (err) {
      this.logger.warn(`could not end shared session ${id}: ${(err as Error).message}`);
    }
  }

  onEnded(listener: (id: string) => void): void {
    this.listeners.push(listener);
    this.subscribed ??= this.sub.subscribe(ENDED_CHANNEL).catch((err: unknown) => {
      this.logger.warn(`could not subscribe to session endings: ${(err as Error).message}`);
    });
  }

  async close(): Promise<void> {
    await this.subscribed;
    this.redis.disconnect();
    this.sub.disconnect();
  }
}
