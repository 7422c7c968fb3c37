import { createHash, timingSafeEqual } from 'node:crypto';
import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  HttpException,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { PlatformConfig } from '@app/config';
import { RateLimiter } from '@app/ratelimit';
import type { Tenant } from '@app/tenancy';
import { AuthEvents } from './auth-events';
import {
  AUTHENTICATORS,
  type AuthAttempt,
  type Authenticator,
} from './authenticators/authenticator';
import { bearerChallenge, resourceMetadataUrl } from './challenge';
import { bearerToken, hasQueryCredential } from './credentials';
import { Access, ACCESS_KEY, AuthenticatedRequest, PUBLIC_KEY } from './decorators';
import { isPlatformAdmin, Principal, TENANT_ADMIN_SCOPE } from './principal';
import { AuthUnavailable, CredentialRefused, refusalReason } from './refusal';
import { routeSlug, TenantResolver } from './tenant-resolver';

const TRIED = Symbol('authenticator');
type Tried = AuthenticatedRequest & { [TRIED]?: string };

/**
 * The one global guard. Routes are closed unless marked @Public(); the first authenticator that
 * recognises the request's credential turns it into a principal; the route's @Authenticated(access)
 * decides what the principal may reach. Rate limits are the next guard's. It needs only the
 * request's headers: bodies are read after it has let the request in.
 */
@Injectable()
export class PlatformAuthGuard implements CanActivate {
  private readonly metricsToken?: Buffer;

  constructor(
    private readonly reflector: Reflector,
    private readonly resolver: TenantResolver,
    private readonly config: PlatformConfig,
    private readonly limiter: RateLimiter,
    private readonly events: AuthEvents,
    @Inject(AUTHENTICATORS) private readonly authenticators: readonly Authenticator[],
  ) {
    if (config.metricsToken) this.metricsToken = digest(config.metricsToken);
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const access = this.reflector.getAllAndOverride<Access>(ACCESS_KEY, targets) ?? 'platform';
    const req = ctx.switchToHttp().getRequest<Tried>();
    const res = ctx.switchToHttp().getResponse<Response>();
    if (access === 'metrics') return this.checkMetricsToken(req, res);
    const slug = routeSlug(req);

    try {
      // An MCP client needs to know the tenant exists before a challenge makes sense.
      if (access === 'tenant-member' && slug !== undefined) {
        req.tenant = await this.resolver.tenantOf(req);
        if (!req.tenant) throw new NotFoundException(`tenant "${slug}" not found`);
      }
      req.user = await this.authenticate(req);
      await this.authorize(access, req.user, req, slug);
      return true;
    } catch (err) {
      if (err instanceof UnauthorizedException) throw await this.refused(err, access, req, res);
      if (err instanceof AuthUnavailable)
        res.setHeader('Retry-After', String(err.retryAfterSeconds));
      throw err;
    }
  }

  /** Asks the authenticators in order; the first that recognises the credential decides. */
  private async authenticate(req: Tried): Promise<Principal> {
    if (hasQueryCredential(req)) {
      throw new CredentialRefused(
        'query_string',
        'credentials in the URL are refused (URLs end up in logs): send them in the Authorization or X-API-Key header',
      );
    }
    const bearer = bearerToken(req);
    if (bearer === '') {
      throw new CredentialRefused('malformed', 'Authorization header must be `Bearer <token>`');
    }
    const attempt: AuthAttempt = { req, bearer, tenant: () => this.resolver.tenantOf(req) };
    for (const authenticator of this.authenticators) {
      if (await authenticator.accepts(attempt)) {
        req[TRIED] = authenticator.kind;
        return authenticator.authenticate(attempt);
      }
    }
    const headers = (await attempt.tenant())?.settings.auth?.external?.headers ?? [];
    throw new CredentialRefused(
      'missing',
      `missing credentials: send \`Authorization: Bearer <token>\` or \`X-API-Key: <key>\`${
        headers.length ? ` or the headers ${headers.join(', ')}` : ''
      }`,
    );
  }

  /**
   * What a refused credential is answered with: a 401 with its challenge, or a 429 once the client
   * address has had too many refusals. A request without any credential is not a refusal (it is
   * how an MCP client asks for its challenge) and counts for nothing.
   */
  private async refused(
    err: UnauthorizedException,
    access: Access,
    req: Tried,
    res: Response,
  ): Promise<HttpException> {
    const slug = routeSlug(req);
    const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const reason = refusalReason(err);
    if (reason !== 'missing') {
      // Guesses at the admin token have a budget of their own (and so does a malformed header).
      const admin =
        req[TRIED] === 'admin-token' ||
        (req[TRIED] === undefined && bearerToken(req) !== undefined);
      const limited = await this.limiter.recordAuthFailure(address, admin);
      if (limited) {
        res.setHeader('Retry-After', String(limited.retryAfter));
        this.events.rateLimited(limited.limit);
        return limited;
      }
    }
    res.setHeader('WWW-Authenticate', this.challenge(access, slug));
    // A refusal on a known tenant's route belongs in that tenant's audit log.
    req.tenant ??= await this.resolver.tenantOf(req).catch(() => undefined);
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
        if (slug !== undefined) {
          req.tenant = await this.resolver.fresh(slug);
          if (!req.tenant) throw new NotFoundException(`tenant "${slug}" not found`);
        }
        return;
      }
      throw new ForbiddenException(
        'the platform admin token is for /admin routes; use a tenant credential here',
      );
    }
    const tenant = await this.resolver.tenantOf(req);
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
