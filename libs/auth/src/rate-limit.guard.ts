import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { PlatformConfig } from '@app/config';
import { ConcurrencyLimiter, RateLimited, RateLimiter } from '@app/ratelimit';
import { AuthEvents } from './auth-events';
import type { AuthenticatedRequest } from './decorators';
import { isPlatformAdmin } from './principal';

/**
 * Runs after PlatformAuthGuard: a tenant's principal draws from the tenant's and its own per-minute
 * limits and takes in-flight slots. Anonymous routes and the platform admin are not limited here
 * (refused credentials are, by address, in the auth guard).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly config: PlatformConfig,
    private readonly limiter: RateLimiter,
    private readonly concurrency: ConcurrencyLimiter,
    private readonly events: AuthEvents,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    const res = ctx.switchToHttp().getResponse<Response>();
    const { user: principal, tenant } = req;
    if (!principal || !tenant || isPlatformAdmin(principal)) return true;
    const limits = tenant.settings.rateLimits;
    try {
      await this.limiter.consume(
        res,
        'tenant',
        tenant.id,
        limits?.tenantPerMinute ?? this.config.rateLimitTenantPerMinute,
      );
      await this.limiter.consume(
        res,
        'key',
        principal.id,
        principal.rateLimitPerMinute ?? limits?.keyPerMinute ?? this.config.rateLimitKeyPerMinute,
      );
      // An event stream lasts as long as its session; sessions have caps of their own.
      if (req.method !== 'GET') {
        this.concurrency.acquire(res, tenant.id, principal.id, {
          tenant: limits?.tenantConcurrency ?? this.config.maxInFlightPerTenant,
          key: limits?.keyConcurrency ?? this.config.maxInFlightPerKey,
        });
      }
      return true;
    } catch (err) {
      if (err instanceof RateLimited) this.events.rateLimited(err.limit);
      throw err;
    }
  }
}
