import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { Client } from 'pg';

export const CHANGE_CHANNEL = 'mcp_platform_changes';

/** What travels between replicas: a message on a named topic. */
export interface BusMessage {
  topic: string;
  body: unknown;
}

/** `change` is how replicas of the previous version sent tenancy changes (a rolling upgrade). */
interface Envelope extends Partial<BusMessage> {
  origin: string;
  change?: unknown;
}

/** Carries messages to the other replicas. */
export interface ChangeBus {
  publish(message: BusMessage): Promise<void>;
  /** `onMessage` gets other processes' messages; `onGap` when some may have been missed. */
  start(onMessage: (m: BusMessage) => void, onGap: () => void): Promise<void>;
  stop(): Promise<void>;
}

const origin = randomUUID();

const encode = (m: BusMessage) => JSON.stringify({ origin, ...m } satisfies Envelope);

function parse(raw: string): BusMessage | null {
  try {
    const e = JSON.parse(raw) as Envelope;
    if (e.origin === origin) return null;
    if (e.topic !== undefined) return { topic: e.topic, body: e.body };
    return e.change !== undefined ? { topic: 'tenancy', body: e.change } : null;
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

  async publish(message: BusMessage): Promise<void> {
    await this.notify(encode(message));
  }

  async start(onMessage: (m: BusMessage) => void, onGap: () => void): Promise<void> {
    const connect = async (attempt: number): Promise<void> => {
      if (this.stopped) return;
      const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 5_000 });
      client.on('notification', (n) => {
        const message = n.channel === CHANGE_CHANNEL && n.payload ? parse(n.payload) : null;
        if (message) onMessage(message);
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

  async publish(message: BusMessage): Promise<void> {
    await this.pub.publish(CHANGE_CHANNEL, encode(message));
  }

  async start(onMessage: (m: BusMessage) => void, onGap: () => void): Promise<void> {
    this.sub.on('message', (channel: string, raw: string) => {
      const message = channel === CHANGE_CHANNEL ? parse(raw) : null;
      if (message) onMessage(message);
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
