import { Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { onLongLived } from '@app/config';
import { RateLimited } from './rate-limiter';

export interface ConcurrencyCaps {
  /** In-flight requests of the whole tenant; 0 turns the cap off. */
  tenant: number;
  /** In-flight requests of one credential; 0 turns the cap off. */
  key: number;
}

/**
 * Caps the requests a tenant, and each of its credentials, have in flight in this process: one
 * tenant's slow or expensive requests then queue up at their own cap instead of taking the
 * event loop, the database pool and the other tenants' latency with them. A request over a cap is
 * refused at once (429 with Retry-After) rather than parked, so that a held slot is always a
 * request being worked on. A slot is freed when the response closes, however it ends.
 */
@Injectable()
export class ConcurrencyLimiter {
  private readonly counts = new Map<string, number>();

  /** Takes a tenant slot and a key slot for this response, or throws 429. */
  acquire(res: ServerResponse, tenantId: string, principalId: string, caps: ConcurrencyCaps): void {
    const tenantKey = `t:${tenantId}`;
    const keyKey = `k:${principalId}`;
    if (caps.tenant > 0 && this.count(tenantKey) >= caps.tenant) {
      throw this.refusal(res, 'tenant', caps.tenant);
    }
    if (caps.key > 0 && this.count(keyKey) >= caps.key) {
      throw this.refusal(res, 'key', caps.key);
    }
    const taken = [caps.tenant > 0 ? tenantKey : '', caps.key > 0 ? keyKey : ''].filter(Boolean);
    if (!taken.length) return;
    for (const k of taken) this.counts.set(k, this.count(k) + 1);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      for (const k of taken) {
        const n = this.count(k) - 1;
        if (n > 0) this.counts.set(k, n);
        else this.counts.delete(k);
      }
    };
    res.once('close', release);
    // A 2026-07-28 listen stream lasts as long as its client wants; it has caps of its own.
    if (res.req) onLongLived(res.req, release);
  }

  private count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  private refusal(res: ServerResponse, scope: 'tenant' | 'key', cap: number): RateLimited {
    res.setHeader('Retry-After', '1');
    return new RateLimited(
      scope === 'tenant' ? 'tenant-concurrency' : 'key-concurrency',
      `too many requests in flight: at most ${cap} at a time per ${scope === 'tenant' ? 'tenant' : 'credential'}; ` +
        'wait for earlier requests to finish, then retry',
    );
  }
}
