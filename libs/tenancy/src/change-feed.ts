import {
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import type { ChangeBus } from './change-bus';

/**
 * Something every replica must act on: cached tenancy data to forget (`all`: changes may have been
 * missed), or an MCP session ended through another replica.
 */
export type TenancyChange =
  | { kind: 'tenant'; tenantId: string; slug: string; deleted?: boolean }
  | { kind: 'key'; tenantId: string; keyId: string }
  | { kind: 'grants'; tenantId: string }
  | { kind: 'session-ended'; sessionId: string }
  | { kind: 'all' };

export const CHANGE_BUS = Symbol('CHANGE_BUS');

/**
 * Fan-out of tenancy changes to the caches that depend on them: at once in this process, and
 * through the change bus (Postgres NOTIFY, or Redis) to every other replica. Changes are published
 * after they are committed, so a subscriber that reloads sees the new state.
 */
@Injectable()
export class ChangeFeed implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ChangeFeed.name);
  private readonly listeners = new Set<(change: TenancyChange) => void>();

  constructor(@Optional() @Inject(CHANGE_BUS) private readonly bus?: ChangeBus | null) {}

  async onModuleInit(): Promise<void> {
    await this.bus?.start(
      (change) => this.deliver(change),
      () => this.deliver({ kind: 'all' }),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus?.stop();
  }

  subscribe(listener: (change: TenancyChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(change: TenancyChange): void {
    this.deliver(change);
    this.bus?.publish(change).catch((err: unknown) => {
      this.logger.warn(
        `could not tell other replicas about a ${change.kind} change: ${(err as Error).message}`,
      );
    });
  }

  private deliver(change: TenancyChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.logger.error(`change listener failed: ${(err as Error).message}`);
      }
    }
  }
}
