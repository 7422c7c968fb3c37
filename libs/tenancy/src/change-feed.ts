import { Injectable } from '@nestjs/common';

/** Something that caches tenancy data must forget. */
export type TenancyChange =
  | { kind: 'tenant'; tenantId: string; slug: string }
  | { kind: 'key'; tenantId: string; keyId: string }
  | { kind: 'grants'; tenantId: string };

/**
 * In-process fan-out of tenancy changes to the caches that depend on them. Changes are published
 * after they are committed, so a subscriber that reloads sees the new state.
 */
@Injectable()
export class ChangeFeed {
  private readonly listeners = new Set<(change: TenancyChange) => void>();

  subscribe(listener: (change: TenancyChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(change: TenancyChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
