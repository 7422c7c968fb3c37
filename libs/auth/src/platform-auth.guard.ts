import { createHash, timingSafeEqual } from 'node:crypto';
import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  HttpException,
  Injectable,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { Passport, type Strategy } from 'passport';
import { PlatformConfig } from '@app/config';
import { ConcurrencyLimiter, RateLimited, RateLimiter } from '@app/ratelimit';
import { Tenant, TenantsService } from '@app/tenancy';
import { AuthEvents } from './auth-events';
import { bearerChallenge, resourceMetadataUrl } from './challenge';
import { CredentialKind, extractCredential, hasQueryCredential } from './credentials';
import { Access, ACCESS_KEY, AuthenticatedRequest, PUBLIC_KEY } from './decorators';
import { isPlatformAdmin, Principal, TENANT_ADMIN_SCOPE } from './principal';
import { CredentialRefused, refusalReason } from './refusal';
import { ADMIN_TOKEN_STRATEGY, AdminTokenStrategy } from './strategies/admin-token.strategy';
import { API_KEY_STRATEGY, ApiKeyStrategy } from './strategies/api-key.strategy';
import { JWT_STRATEGY, JwtStrategy } from './strategies/jwt.strategy';

/**
 * The one global guard. Routes are closed unless marked @Public(); the credential's shape picks the
 * passport strategy; the route's @Authenticated(access) decides what the principal may reach; tenant
 * credentials then draw from their rate limits and concurrency caps. It needs only the request's
 * headers: bodies are read after it has let the request in.
 */
@Injectable()
export class PlatformAuthGuard implements CanActivate {
  /**
   * This application's own Passport instance: the global one is shared by every Nest app in the
   * process, so a second app (tests, benchmarks) would otherwise replace this one's strategies.
   */
  private readonly passport = new Passport();
  private readonly strategyNames: Record<CredentialKind, string> = {
    'api-key': API_KEY_STRATEGY,
    'admin-token': ADMIN_TOKEN_STRATEGY,
    jwt: JWT_STRATEGY,
  };
  private readonly metricsToken?: Buffer;

  constructor(
    private readonly reflector: Reflector,
    private readonly tenants: TenantsService,
    private readonly config: PlatformConfig,
    private readonly limiter: RateLimiter,
    private readonly concurrency: ConcurrencyLimiter,
    private readonly events: AuthEvents,
    apiKey: ApiKeyStrategy,
    adminToken: AdminTokenStrategy,
    jwt: JwtStrategy,
  ) {
    this.passport.use(API_KEY_STRATEGY, apiKey as unknown as Strategy);
    this.passport.use(ADMIN_TOKEN_STRATEGY, adminToken as unknown as Strategy);
    this.passport.use(JWT_STRATEGY, jwt as unknown as Strategy);
    if (config.metricsToken) this.metricsToken = digest(config.metricsToken);
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const access = this.reflector.getAllAndOverride<Access>(ACCESS_KEY, targets) ?? 'platform';
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    const res = ctx.switchToHttp().getResponse<Response>();
    if (access === 'metrics') return this.checkMetricsToken(req, res);
    const slug = typeof req.params.tenant === 'string' ? req.params.tenant : undefined;

    try {
      // An MCP client needs to know the tenant exists before a challenge makes sense.
      if (access === 'tenant-member' && slug !== undefined) {
        req.tenant = (await this.tenants.resolve(slug)) ?? undefined;
        if (!req.tenant) throw new NotFoundException(`tenant "${slug}" not found`);
      }
      await this.authenticate(ctx, req, slug);
      await this.authorize(access, req.user!, req, slug);
      await this.applyLimits(req, res, req.user!, req.tenant);
      return true;
    } catch (err) {
      if (err instanceof UnauthorizedException) throw await this.refused(err, access, req, res);
      if (err instanceof RateLimited) this.events.rateLimited(err.limit);
      throw err;
    }
  }

  /**
   * What a refused credential is answered with: a 401 with its challenge, or a 429 once the client
   * address has had too many refusals. A request without any credential is not a refusal (it is
   * how an MCP client asks for its challenge) and counts for nothing.
   */
  private async refused(
    err: UnauthorizedException,
    access: Access,
    req: AuthenticatedRequest,
    res: Response,
  ): Promise<HttpException> {
    const slug = typeof req.params.tenant === 'string' ? req.params.tenant : undefined;
    const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const reason = refusalReason(err);
    if (reason !== 'missing') {
      const admin = extractCredential(req)?.kind === 'admin-token';
      const limited = await this.limiter.recordAuthFailure(address, admin);
      if (limited) {
        res.setHeader('Retry-After', String(limited.retryAfter));
        this.events.rateLimited(limited.limit);
        return limited;
      }
    }
    res.setHeader('WWW-Authenticate', this.challenge(access, slug));
    // A refusal on a known tenant's route belongs in that tenant's audit log.
    if (!req.tenant && slug !== undefined) {
      req.tenant = (await this.tenants.resolve(slug).catch(() => null)) ?? undefined;
    }
    this.events.credentialRefused({
      tenant: req.tenant,
      reason,
      message: err.message,
      address,
      requestId: res.getHeader('X-Request-Id') as string | undefined,
      route: (req.route as { path?: string } | undefined)?.path ?? req.path,
    });
    return err;
  }

  private async authenticate(
    ctx: ExecutionContext,
    req: AuthenticatedRequest,
    slug: string | undefined,
  ): Promise<void> {
    if (hasQueryCredential(req)) {
      throw new CredentialRefused(
        'query_string',
        'credentials in the URL are refused (URLs end up in logs): send them in the Authorization or X-API-Key header',
      );
    }
    const credential = extractCredential(req);
    if (!credential) {
      throw new CredentialRefused(
        'missing',
        'missing credentials: send `Authorization: Bearer <token>` or `X-API-Key: <key>`',
      );
    }
    if (!credential.value) {
      throw new CredentialRefused('malformed', 'Authorization header must be `Bearer <token>`');
    }
    if (credential.kind === 'jwt') {
      // A JWT is verified against the identity provider of the tenant the route names.
      req.tenant ??= (slug !== undefined ? await this.tenants.resolve(slug) : null) ?? undefined;
      if (!req.tenant?.settings.auth?.jwt) {
        throw new CredentialRefused(
          'no_identity_provider',
          'JWT bearer tokens are accepted only on the routes of a tenant with an identity provider configured',
        );
      }
    }
    req.user = await this.runStrategy(
      credential.kind,
      req,
      ctx.switchToHttp().getResponse<Response>(),
    );
  }

  /** Runs a passport strategy; every way it can refuse becomes a 401 that says why. */
  private runStrategy(
    kind: CredentialKind,
    req: AuthenticatedRequest,
    res: Response,
  ): Promise<Principal> {
    return new Promise((resolve, reject) => {
      const refuse = (err: unknown, info: unknown) => {
        if (err instanceof UnauthorizedException) return reject(err);
        const reason = (err as Error | undefined)?.message ?? (info as Error | undefined)?.message;
        if (kind === 'jwt') {
          return reject(
            new CredentialRefused(
              'jwt_rejected',
              `bearer token rejected: ${reason ?? 'not a valid token'}`,
            ),
          );
        }
        if (err) return reject(err instanceof Error ? err : new Error('authentication failed'));
        reject(new CredentialRefused('invalid', reason ?? 'credential is not valid'));
      };
      const authenticate = this.passport.authenticate(
        this.strategyNames[kind],
        { session: false },
        (err: unknown, user: Principal | false, info: unknown) =>
          user && !err ? resolve(user) : refuse(err, info),
      ) as (req: unknown, res: unknown, next: (err?: unknown) => void) => void;
      authenticate(req, res, (err) => refuse(err, undefined));
    });
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
      if (access === 'tenant-admin') {
        // Read afresh, not from the request-path cache: the platform admin manages tenants.
        if (slug !== undefined) {
          req.tenant = (await this.tenants.findBySlug(slug)) ?? undefined;
          if (!req.tenant) throw new NotFoundException(`tenant "${slug}" not found`);
        }
        return;
      }
      throw new ForbiddenException(
        'the platform admin token is for /admin routes; use a tenant credential here',
      );
    }
    const tenant = req.tenant ?? (slug !== undefined ? await this.tenants.resolve(slug) : null);
    if (!tenant || tenant.id !== principal.tenantId) {
      if (access === 'tenant-member') {
        throw new CredentialRefused('wrong_tenant', 'this credential belongs to another tenant');
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

  /** Tenant credentials draw from their rate limits and take in-flight slots. */
  private async applyLimits(
    req: AuthenticatedRequest,
    res: Response,
    principal: Principal,
    tenant: Tenant | undefined,
  ): Promise<void> {
    if (!tenant || isPlatformAdmin(principal)) return;
    const limits = tenant.settings.rateLimits;
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
    if (req.method === 'GET') return;
    this.concurrency.acquire(res, tenant.id, principal.id, {
      tenant: limits?.tenantConcurrency ?? this.config.maxInFlightPerTenant,
      key: limits?.keyConcurrency ?? this.config.maxInFlightPerKey,
    });
  }

  /** A scraper's token is not a principal: it opens /metrics and nothing else. */
  private checkMetricsToken(req: AuthenticatedRequest, res: Response): boolean {
    if (!this.metricsToken) return true;
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (timingSafeEqual(digest(token), this.metricsToken)) return true;
    res.setHeader('WWW-Authenticate', bearerChallenge({ realm: 'metrics' }));
    throw new UnauthorizedException('metrics need `Authorization: Bearer <METRICS_TOKEN>`');
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

const digest = (s: string) => createHash('sha256').update(s).digest();

declare module 'express' {
  interface Request {
    tenant?: Tenant;
  }
}
