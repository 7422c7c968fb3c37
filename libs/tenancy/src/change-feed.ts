import {
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import type { BusMessage, ChangeBus } from './change-bus';

/** Cached tenancy data every replica must forget (`all`: changes may have been missed). */
export type TenancyChange =
  | { kind: 'tenant'; tenantId: string; slug: string; deleted?: boolean }
  | { kind: 'key'; tenantId: string; keyId: string }
  | { kind: 'grants'; tenantId: string }
  /** The tenant's tool catalog changed (a tool source added, changed, refreshed or removed). */
  | { kind: 'catalog'; tenantId: string }
  | { kind: 'all' };

export const CHANGE_BUS = Symbol('CHANGE_BUS');

/** A named channel on the change bus, for what another lib must tell every replica. */
export interface ReplicaTopic<T> {
  publish(message: T): void;
  subscribe(listener: (message: T) => void): () => void;
}

const TENANCY = 'tenancy';

/**
 * Fan-out of tenancy changes to the caches that depend on them: at once in this process, and
 * through the change bus (Postgres NOTIFY, or Redis) to every other replica. Changes are published
 * after they are committed, so a subscriber that reloads sees the new state. Other libs get topics
 * of their own on the same bus (`topic()`); a gap in the bus reaches only tenancy listeners, as
 * `all`.
 */
@Injectable()
export class ChangeFeed implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ChangeFeed.name);
  private readonly listeners = new Map<string, Set<(body: unknown) => void>>();

  constructor(@Optional() @Inject(CHANGE_BUS) private readonly bus?: ChangeBus | null) {}

  async onModuleInit(): Promise<void> {
    await this.bus?.start(
      (m) => this.deliver(m),
      () => this.deliver({ topic: TENANCY, body: { kind: 'all' } satisfies TenancyChange }),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus?.stop();
  }

  subscribe(listener: (change: TenancyChange) => void): () => void {
    return this.topic<TenancyChange>(TENANCY).subscribe(listener);
  }

  publish(change: TenancyChange): void {
    this.topic<TenancyChange>(TENANCY).publish(change);
  }

  topic<T>(name: string): ReplicaTopic<T> {
    return {
      publish: (body) => {
        const message = { topic: name, body };
        this.deliver(message);
        this.bus?.publish(message).catch((err: unknown) => {
          this.logger.warn(
            `could not tell other replicas about ${name}: ${(err as Error).message}`,
          );
        });
      },
      subscribe: (listener) => {
        const set = this.listeners.get(name) ?? new Set();
        this.listeners.set(name, set);
        const l = listener as (body: unknown) => void;
        set.add(l);
        return () => set.delete(l);
      },
    };
  }

  private deliver(message: BusMessage): void {
    for (const listener of this.listeners.get(message.topic) ?? []) {
      try {
        listener(message.body);
      } catch (err) {
        this.logger.error(`change listener failed: ${(err as Error).message}`);
      }
    }
  }
}
