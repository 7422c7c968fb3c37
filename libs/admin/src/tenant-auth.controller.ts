import { Body, Controller, Get, Param, Put, Req } from '@nestjs/common';
import {
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { z } from 'zod';
import { Authenticated, type AuthenticatedRequest } from '@app/auth';
import { AdminAudit } from './admin-audit';
import { Tenant, TenantsService } from '@app/tenancy';
import { schemaRef } from './openapi-schemas';
import { TenantAuthBody, TenantAuthView } from './schemas';
import { JsonBody } from './validation';

const TenantAuthRef = schemaRef('TenantAuth', TenantAuthView);
const view = (t: Tenant) => ({ jwt: t.settings.auth?.jwt ?? null });

@ApiTags('tenant auth')
@ApiParam({ name: 'tenant', description: 'tenant slug' })
@Authenticated('tenant-admin')
@Controller('admin/tenants/:tenant/auth')
export class TenantAuthController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly audit: AdminAudit,
  ) {}

  @Get()
  @ApiOperation({
    summary: "The tenant's identity provider for JWT bearer tokens (jwt: null when none)",
  })
  @ApiOkResponse({ schema: TenantAuthRef })
  @ApiNotFoundResponse({ description: 'No such tenant' })
  async get(@Param('tenant') slug: string) {
    return view(await this.tenants.getBySlug(slug));
  }

  @Put()
  @ApiOperation({
    summary:
      'Set (or, with jwt: null, remove) the identity provider whose access tokens work on this tenant’s MCP endpoint',
  })
  @JsonBody('SetTenantAuth', TenantAuthBody)
  @ApiOkResponse({ schema: TenantAuthRef })
  @ApiNotFoundResponse({ description: 'No such tenant' })
  async set(
    @Req() req: AuthenticatedRequest,
    @Param('tenant') slug: string,
    @Body() body: z.output<typeof TenantAuthBody>,
  ) {
    const tenant = await this.tenants.setJwtSettings(slug, body.jwt);
    this.audit.changed(req, tenant.id, 'tenant.auth', { jwt: body.jwt });
    return view(tenant);
  }
}
