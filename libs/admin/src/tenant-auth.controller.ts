import { BadGatewayException, BadRequestException, Body, Get, Put } from '@nestjs/common';
import { z } from 'zod';
import {
  CurrentTenant,
  DiscoveryFailed,
  IntrospectionAuthenticator,
  IssuerMetadata,
  JwksCache,
  ProbeFailed,
  TENANT_AUTH_SECRETS,
} from '@app/auth';
import { EgressPolicy, EgressRefused } from '@app/egress';
import {
  PlatformSecrets,
  SealedSecretError,
  Tenant,
  type TenantAuthSettings,
  type TenantIntrospectionSettings,
  TenantsService,
} from '@app/tenancy';
import { Actor, type AdminActor, AdminAudit } from './admin-audit';
import { Documented, TenantAdminController } from './route';
import { TenantAuthBody } from './schemas';
import { JsonBody } from './validation';
import { TenantAuthView } from './views';

type Body = z.output<typeof TenantAuthBody>;

@TenantAdminController('tenant auth', 'auth')
export class TenantAuthController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly jwks: JwksCache,
    private readonly metadata: IssuerMetadata,
    private readonly introspection: IntrospectionAuthenticator,
    private readonly secrets: PlatformSecrets,
    private readonly egress: EgressPolicy,
    private readonly audit: AdminAudit,
  ) {}

  @Get()
  @Documented({
    summary:
      "The tenant's identity systems: JWT issuer, token introspection, its own auth service (null when not set; secrets never shown)",
    ok: TenantAuthView.ref,
    notFound: 'No such tenant',
  })
  get(@CurrentTenant() tenant: Tenant) {
    return TenantAuthView.render(tenant);
  }

  @Put()
  @Documented({
    summary:
      'Set the credentials this tenant’s MCP endpoint accepts besides API keys: a JWT issuer (jwt), opaque tokens checked by RFC 7662 introspection, header credentials checked by the tenant’s auth service (external). Each part: absent keeps it, null removes it. Checked before saving: issuer metadata read, introspection client tried.',
    ok: TenantAuthView.ref,
    notFound: 'No such tenant',
  })
  @JsonBody('SetTenantAuth', TenantAuthBody)
  async set(@Actor() actor: AdminActor, @CurrentTenant() current: Tenant, @Body() body: Body) {
    const before = current.settings.auth ?? {};
    const next: TenantAuthSettings = { ...before };
    if (body.jwt !== undefined) {
      if (body.jwt) await this.checkJwt(body.jwt);
      assign(next, 'jwt', body.jwt);
    }
    if (body.introspection !== undefined) {
      assign(
        next,
        'introspection',
        body.introspection &&
          (await this.introspectionOf(body.introspection, before.introspection)),
      );
    }
    if (body.external !== undefined) {
      if (body.external) await this.checkUrl('external.url', body.external.url);
      assign(next, 'external', body.external);
    }
    const tenant = await this.tenants.setAuthSettings(current.slug, next);
    // Keys of a JWKS this tenant no longer uses must not outlive the change.
    const previous = before.jwt?.jwksUri;
    if (previous && previous !== next.jwt?.jwksUri) this.jwks.forget(previous);
    const view = TenantAuthView.render(tenant);
    this.audit.changed(actor, tenant.id, 'tenant.auth', {
      ...(body.jwt !== undefined ? { jwt: view.jwt } : {}),
      ...(body.introspection !== undefined ? { introspection: view.introspection } : {}),
      ...(body.external !== undefined ? { external: view.external } : {}),
    });
    return view;
  }

  private async checkJwt(jwt: NonNullable<Body['jwt']>): Promise<void> {
    if (jwt.jwksUri) return this.checkUrl('jwt.jwksUri', jwt.jwksUri);
    await this.checkUrl('jwt.issuer', jwt.issuer);
    try {
      await this.metadata.check(jwt.issuer);
    } catch (err) {
      if (!(err instanceof DiscoveryFailed)) throw err;
      const message = `jwt.issuer: ${err.message} (or give jwt.jwksUri)`;
      throw err.failure === 'unreachable'
        ? new BadGatewayException(message)
        : new BadRequestException(message);
    }
  }

  /** The stored form: the secret sealed, after the endpoint accepted the client. */
  private async introspectionOf(
    given: NonNullable<Body['introspection']>,
    stored: TenantIntrospectionSettings | undefined,
  ): Promise<TenantIntrospectionSettings> {
    await this.checkUrl('introspection.endpoint', given.endpoint);
    const { clientSecret, ...rest } = given;
    const secret = clientSecret ?? (stored && this.storedSecret(stored));
    if (secret === undefined) {
      throw new BadRequestException(
        'introspection.clientSecret: required when introspection is first set',
      );
    }
    try {
      await this.introspection.probe(given.endpoint, given.clientId, secret);
    } catch (err) {
      if (!(err instanceof ProbeFailed)) throw err;
      const message = `introspection: ${err.message}`;
      throw err.failure === 'unreachable'
        ? new BadGatewayException(message)
        : new BadRequestException(message);
    }
    return { ...rest, clientSecretSealed: this.secrets.seal(TENANT_AUTH_SECRETS, secret) };
  }

  private storedSecret(stored: TenantIntrospectionSettings): string {
    try {
      return this.secrets.open(TENANT_AUTH_SECRETS, stored.clientSecretSealed);
    } catch (err) {
      if (!(err instanceof SealedSecretError)) throw err;
      throw new BadRequestException(
        'introspection.clientSecret: the stored secret cannot be opened (SECRETS_KEY changed without SECRETS_KEY_PREVIOUS); send it again',
      );
    }
  }

  /** Refused now rather than at the first request: the platform will fetch this URL for the tenant. */
  private async checkUrl(field: string, url: string): Promise<void> {
    try {
      await this.egress.check(url);
    } catch (err) {
      if (!(err instanceof EgressRefused)) throw err;
      // A name that does not resolve here yet (split DNS, an IdP not up) is checked at fetch time.
      if (err.reason !== 'unresolvable') throw new BadRequestException(`${field}: ${err.message}`);
    }
  }
}

function assign<K extends keyof TenantAuthSettings>(
  settings: TenantAuthSettings,
  key: K,
  value: TenantAuthSettings[K] | null,
): void {
  if (value) settings[key] = value;
  else delete settings[key];
}
