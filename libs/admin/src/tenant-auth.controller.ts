import { BadRequestException, Body, Get, Put } from '@nestjs/common';
import { z } from 'zod';
import { CurrentTenant, JwksCache } from '@app/auth';
import { EgressPolicy, EgressRefused } from '@app/egress';
import { Tenant, TenantsService } from '@app/tenancy';
import { Actor, type AdminActor, AdminAudit } from './admin-audit';
import { Documented, TenantAdminController } from './route';
import { TenantAuthBody } from './schemas';
import { JsonBody } from './validation';
import { TenantAuthView } from './views';

@TenantAdminController('tenant auth', 'auth')
export class TenantAuthController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly jwks: JwksCache,
    private readonly egress: EgressPolicy,
    private readonly audit: AdminAudit,
  ) {}

  @Get()
  @Documented({
    summary: "The tenant's identity provider for JWT bearer tokens (jwt: null when none)",
    ok: TenantAuthView.ref,
    notFound: 'No such tenant',
  })
  get(@CurrentTenant() tenant: Tenant) {
    return TenantAuthView.render(tenant);
  }

  @Put()
  @Documented({
    summary:
      'Set (or, with jwt: null, remove) the identity provider whose access tokens work on this tenant’s MCP endpoint',
    ok: TenantAuthView.ref,
    notFound: 'No such tenant',
  })
  @JsonBody('SetTenantAuth', TenantAuthBody)
  async set(
    @Actor() actor: AdminActor,
    @CurrentTenant() current: Tenant,
    @Body() body: z.output<typeof TenantAuthBody>,
  ) {
    // Refused now rather than at the first token: the platform will fetch this URL for the tenant.
    if (body.jwt) {
      try {
        await this.egress.check(body.jwt.jwksUri);
      } catch (err) {
        if (!(err instanceof EgressRefused)) throw err;
        // A name that does not resolve here yet (split DNS, an IdP not up) is checked at fetch time.
        if (err.reason !== 'unresolvable') {
          throw new BadRequestException(`jwt.jwksUri: ${err.message}`);
        }
      }
    }
    const previous = current.settings.auth?.jwt?.jwksUri;
    const tenant = await this.tenants.setJwtSettings(current.slug, body.jwt);
    // Keys of a JWKS this tenant no longer uses must not outlive the change.
    if (previous && previous !== body.jwt?.jwksUri) this.jwks.forget(previous);
    this.audit.changed(actor, tenant.id, 'tenant.auth', { jwt: body.jwt });
    return TenantAuthView.render(tenant);
  }
}
