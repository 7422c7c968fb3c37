import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { Client } from 'pg';
import type { TenancyChange } from './change-feed';

export const CHANGE_CHANNEL = 'mcp_platform_changes';

interface Envelope {
  origin: string;
  change: TenancyChange;
}

/** Carries tenancy changes to the other replicas. */
export interface ChangeBus {
  publish(change: TenancyChange): Promise<void>;
  /** `onMessage` gets other processes' changes; `onGap` when some may have been missed. */
  start(onMessage: (c: TenancyChange) => void, onGap: () => void): Promise<void>;
  stop(): Promise<void>;
}

const origin = randomUUID();

function parse(raw: string): TenancyChange | null {
  try {
    const e = JSON.parse(raw) as Envelope;
    return e.origin === origin ? null : e.change;
  } catch {
    return null;
  }
}

/** Postgres LISTEN/NOTIFY on a dedicated connection that reconnects by itself. */
export class PgChangeBus implements ChangeBus {
  private readonly logger = new Logger('ChangeBus');
  private client?: Client;
  private stopped = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    private readonly notify: (payload: string) => Promise<unknown>,
  ) {}

  async publish(change: TenancyChange): Promise<void> {
    await this.notify(JSON.stringify({ origin, change } satisfies Envelope));
  }

  async start(onMessage: (c: TenancyChange) => void, onGap: () => void): Promise<void> {
    const connect = async (attempt: number): Promise<void> => {
      if (this.stopped) return;
      const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 5_000 });
      client.on('notification', (n) => {
        const change = n.channel === CHANGE_CHANNEL && n.payload ? parse(n.payload) : null;
        if (change) onMessage(change);
      });
      const reconnect = () => {
        if (this.stopped || this.client !== client) return;
        this.client = undefined;
        // No cache is cleared yet: while the database is down nothing can change in it, and the
        // warm caches keep serving. Once the listener is back, onGap() clears them.
        const delay = Math.min(1_000, 100 * 2 ** Math.min(attempt, 4));
        this.retry = setTimeout(() => void connect(attempt + 1), delay);
      };
      client.on('error', (err) => {
        this.logger.warn(`LISTEN connection lost: ${err.message}`);
        reconnect();
      });
      client.on('end', reconnect);
      this.client = client;
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANGE_CHANNEL}`);
        if (attempt > 0) {
          this.logger.log('LISTEN connection restored');
          onGap();
        }
        attempt = 0;
      } catch (err) {
        this.logger.warn(`LISTEN connection failed: ${(err as Error).message}`);
        client.removeAllListeners('end');
        await client.end().catch(() => undefined);
        if (this.client === client) {
          this.client = undefined;
          const delay = Math.min(1_000, 100 * 2 ** Math.min(attempt, 4));
          this.retry = setTimeout(() => void connect(attempt + 1), delay);
        }
      }
    };
    await connect(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }
}

/** Redis pub/sub, used instead of Postgres when REDIS_URL is set. */
export class RedisChangeBus implements ChangeBus {
  private readonly pub: Redis;
  private readonly sub: Redis;

  constructor(url: string) {
    const opts = { maxRetriesPerRequest: 2, connectTimeout: 2_000 };
    this.pub = new Redis(url, opts);
    this.sub = new Redis(url, opts);
    this.pub.on('error', () => undefined);
    this.sub.on('error', () => undefined);
  }

  async publish(change: TenancyChange): Promise<void> {
    await this.pub.publish(CHANGE_CHANNEL, JSON.stringify({ origin, change } satisfies Envelope));
  }

  async start(onMessage: (c: TenancyChange) => void, onGap: () => void): Promise<void> {
    this.sub.on('message', (channel: string, raw: string) => {
      const change = channel === CHANGE_CHANNEL ? parse(raw) : null;
      if (change) onMessage(change);
    });
    // After a reconnect ioredis re-subscribes, but messages sent meanwhile are gone.
    let connectedOnce = false;
    this.sub.on('ready', () => {
      if (connectedOnce) onGap();
      connectedOnce = true;
    });
    await this.sub.subscribe(CHANGE_CHANNEL);
  }

  async stop(): Promise<void> {
    this.pub.disconnect();
    this.sub.disconnect();
    return Promise.resolve();
  }
}
