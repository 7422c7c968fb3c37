import {
  applyDecorators,
  createParamDecorator,
  ExecutionContext,
  SetMetadata,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiSecurity,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request } from 'express';
import type { Tenant } from '@app/tenancy';
import type { Principal } from './principal';

export const PUBLIC_KEY = 'auth:public';
export const ACCESS_KEY = 'auth:access';

/**
 * Who may use a route once authenticated.
 * - `platform`: only the platform admin token (the default for any route without a decorator).
 * - `tenant-admin`: the platform admin, or a credential of the route's `:tenant` with `tenant:admin`.
 * - `tenant-member`: any valid credential of the route's `:tenant`.
 * - `metrics`: `Bearer <METRICS_TOKEN>` when one is configured, anyone otherwise.
 */
export type Access = 'platform' | 'tenant-admin' | 'tenant-member' | 'metrics';

/** Opens a route to anonymous callers. Everything else is closed by the global guard. */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export const Authenticated = (access: Access) =>
  applyDecorators(
    SetMetadata(ACCESS_KEY, access),
    ...(access === 'metrics' ? [ApiBearerAuth('metrics')] : []),
    ApiBearerAuth('bearer'),
    ApiSecurity('apiKey'),
    ApiUnauthorizedResponse({
      description: 'Missing, malformed, unknown, expired or revoked credential',
    }),
    ApiForbiddenResponse({ description: 'Authenticated, but not allowed here' }),
  );

export interface AuthenticatedRequest extends Request {
  user?: Principal;
}

/** The tenant the route's `:tenant` names, resolved once by the guard (404 when there is none). */
export const CurrentTenant = createParamDecorator((_: unknown, ctx: ExecutionContext): Tenant => {
  const tenant = ctx.switchToHttp().getRequest<AuthenticatedRequest>().tenant;
  if (!tenant)
    throw new Error('CurrentTenant used on a route without a :tenant the guard resolved');
  return tenant;
});
