import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  HttpException,
  Injectable,
  Logger,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { Response } from 'express';
import { PlatformConfig } from '@app/config';
import { Tenant, TenantsService } from '@app/tenancy';
import { bearerChallenge, resourceMetadataUrl } from './challenge';
import { CredentialKind, extractCredential, hasQueryCredential } from './credentials';
import { Access, ACCESS_KEY, AuthenticatedRequest, PUBLIC_KEY } from './decorators';
import { isPlatformAdmin, Principal, TENANT_ADMIN_SCOPE } from './principal';
import { ADMIN_TOKEN_STRATEGY } from './strategies/admin-token.strategy';
import { API_KEY_STRATEGY } from './strategies/api-key.strategy';
import { JWT_STRATEGY } from './strategies/jwt.strategy';

/** Turns every JWT refusal (passport-jwt's info or a thrown reason) into a 401 that says why. */
class JwtPassportGuard extends AuthGuard(JWT_STRATEGY) {
  override handleRequest<TUser>(err: unknown, user: TUser, info: unknown): TUser {
    if (user && !err) return user;
    const reason = (err as Error | undefined)?.message ?? (info as Error | undefined)?.message;
    throw new UnauthorizedException(`bearer token rejected: ${reason ?? 'not a valid token'}`);
  }
}

/**
 * The one global guard. Routes are closed unless marked @Public(); the credential's shape picks the
 * passport strategy; the route's @Authenticated(access) decides what the principal may reach.
 */
@Injectable()
export class PlatformAuthGuard implements CanActivate {
  private readonly logger = new Logger('Auth');
  private readonly strategies: Record<CredentialKind, CanActivate> = {
    'api-key': new (AuthGuard(API_KEY_STRATEGY))(),
    'admin-token': new (AuthGuard(ADMIN_TOKEN_STRATEGY))(),
    jwt: new JwtPassportGuard(),
  };

  constructor(
    private readonly reflector: Reflector,
    private readonly tenants: TenantsService,
    private readonly config: PlatformConfig,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const access = this.reflector.getAllAndOverride<Access>(ACCESS_KEY, targets) ?? 'platform';
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    const res = ctx.switchToHttp().getResponse<Response>();
    const slug = typeof req.params.tenant === 'string' ? req.params.tenant : undefined;

    // An MCP client needs to know the tenant exists before a challenge makes sense.
    if (access === 'tenant-member' && slug !== undefined) {
      req.tenant = (await this.tenants.resolve(slug)) ?? undefined;
      if (!req.tenant) throw new NotFoundException(`tenant "${slug}" not found`);
    }

    try {
      await this.authenticate(ctx, req, slug);
    } catch (err) {
      if (err instanceof UnauthorizedException) {
        res.setHeader('WWW-Authenticate', this.challenge(access, slug));
        if (req.tenant) {
          this.logger.warn({ tenant: req.tenant.slug, reason: err.message }, 'credential refused');
        }
      }
      throw err;
    }
    const principal = req.user!;
    await this.authorize(access, principal, req, slug);
    return true;
  }

  private async authenticate(
    ctx: ExecutionContext,
    req: AuthenticatedRequest,
    slug: string | undefined,
  ): Promise<void> {
    if (hasQueryCredential(req)) {
      throw new UnauthorizedException(
        'credentials in the URL are refused (URLs end up in logs): send them in the Authorization or X-API-Key header',
      );
    }
    const credential = extractCredential(req);
    if (!credential) {
      throw new UnauthorizedException(
        'missing credentials: send `Authorization: Bearer <token>` or `X-API-Key: <key>`',
      );
    }
    if (!credential.value) {
      throw new UnauthorizedException('Authorization header must be `Bearer <token>`');
    }
    if (credential.kind === 'jwt') {
      // A JWT is verified against the identity provider of the tenant the route names.
      req.tenant ??= (slug !== undefined ? await this.tenants.resolve(slug) : null) ?? undefined;
      if (!req.tenant?.settings.auth?.jwt) {
        throw new UnauthorizedException(
          'JWT bearer tokens are accepted only on the routes of a tenant with an identity provider configured',
        );
      }
    }
    await this.strategies[credential.kind].canActivate(ctx);
  }

  private async authorize(
    access: Access,
    principal: Principal,
    req: AuthenticatedRequest,
    slug: string | undefined,
  ): Promise<void> {
    if (access === 'platform') {
      if (!isPlatformAdmin(principal)) {
        throw new ForbiddenException('this route needs the platform admin token');
      }
      return;
    }
    if (isPlatformAdmin(principal)) {
      if (access === 'tenant-admin') return;
      throw new ForbiddenException(
        'the platform admin token is for /admin routes; use a tenant credential here',
      );
    }
    const tenant = req.tenant ?? (slug !== undefined ? await this.tenants.resolve(slug) : null);
    if (!tenant || tenant.id !== principal.tenantId) {
      if (access === 'tenant-member') {
        throw this.unauthorized(req, slug, 'this credential belongs to another tenant');
      }
      throw new ForbiddenException('this credential belongs to another tenant');
    }
    req.tenant = tenant;
    if (tenant.status === 'suspended') {
      throw new ForbiddenException(`tenant "${tenant.slug}" is suspended`);
    }
    if (access === 'tenant-admin' && !principal.scopes.includes(TENANT_ADMIN_SCOPE)) {
      throw new ForbiddenException(`this route needs the ${TENANT_ADMIN_SCOPE} scope`);
    }
  }

  private unauthorized(
    req: AuthenticatedRequest,
    slug: string | undefined,
    message: string,
  ): HttpException {
    req.res?.setHeader('WWW-Authenticate', this.challenge('tenant-member', slug));
    return new UnauthorizedException(message);
  }

  private challenge(access: Access, slug: string | undefined): string {
    if (access === 'tenant-member' && slug !== undefined) {
      return bearerChallenge({
        resource_metadata: resourceMetadataUrl(this.config.publicUrl, slug),
      });
    }
    return bearerChallenge({ realm: 'mcp-platform-admin' });
  }
}

declare module 'express' {
  interface Request {
    tenant?: Tenant;
  }
}
