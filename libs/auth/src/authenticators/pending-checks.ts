import { AuthUnavailable } from '../refusal';

/** Outbound credential checks one tenant may have waiting at once. */
export const MAX_PENDING_CHECKS_PER_TENANT = 64;

/**
 * Counts a tenant's outbound credential checks in flight. Anyone can send fresh credentials to a
 * tenant's endpoint; past the cap they are answered 503 at once instead of piling up sockets and
 * memory here (and calls at the tenant's service) while that service is slow.
 */
export class PendingChecks {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly what: string,
    private readonly max = MAX_PENDING_CHECKS_PER_TENANT,
  ) {}

  run<T>(tenantId: string, check: () => Promise<T>): Promise<T> {
    const n = this.counts.get(tenantId) ?? 0;
    if (n >= this.max) {
      return Promise.reject(
        new AuthUnavailable(
          `too many credential checks are waiting on the ${this.what}; try again shortly`,
          1,
        ),
      );
    }
    this.counts.set(tenantId, n + 1);
    return check().finally(() => {
      const left = (this.counts.get(tenantId) ?? 1) - 1;
      if (left > 0) this.counts.set(tenantId, left);
      else this.counts.delete(tenantId);
    });
  }
}
