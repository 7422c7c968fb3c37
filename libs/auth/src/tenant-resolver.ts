import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { Tenant, TenantsService } from '@app/tenancy';

const RESOLVED = Symbol('tenant-resolved');

type Resolving = Request & { [RESOLVED]?: Promise<Tenant | undefined> };

/** The `:tenant` of a route, if it has one. */
export function routeSlug(req: Request): string | undefined {
  const slug = (req.params as Record<string, unknown> | undefined)?.tenant;
  return typeof slug === 'string' ? slug : undefined;
}

/**
 * The tenant a route's `:tenant` names, read (from the slug cache) once per request however many
 * authenticators and checks ask for it.
 */
@Injectable()
export class TenantResolver {
  constructor(private readonly tenants: TenantsService) {}

  tenantOf(req: Request): Promise<Tenant | undefined> {
    const r = req as Resolving;
    if (!r[RESOLVED]) {
      const slug = routeSlug(req);
      r[RESOLVED] =
        slug === undefined
          ? Promise.resolve(undefined)
          : this.tenants.resolve(slug).then((t) => t ?? undefined);
    }
    return r[RESOLVED];
  }

  /** Read afresh, not from the slug cache: for the platform admin, who manages tenants. */
  async fresh(slug: string): Promise<Tenant | undefined> {
    return (await this.tenants.findBySlug(slug)) ?? undefined;
  }
}
