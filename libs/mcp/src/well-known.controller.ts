import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public, RESOURCE_METADATA_PREFIX, resourceUrl } from '@app/auth';
import { PlatformConfig, TENANT_ROUTE } from '@app/config';
import { TenantsService } from '@app/tenancy';
import { ToolCatalog } from '@app/tools';

@ApiTags('mcp')
@Public()
@Controller(`${RESOURCE_METADATA_PREFIX}/${TENANT_ROUTE}/mcp`)
export class WellKnownController {
  constructor(
    private readonly config: PlatformConfig,
    private readonly tenants: TenantsService,
    private readonly catalog: ToolCatalog,
  ) {}

  @Get()
  @ApiOperation({ summary: "RFC 9728 protected resource metadata of a tenant's MCP endpoint" })
  @ApiOkResponse({
    description: 'resource, authorization_servers, scopes_supported, bearer_methods_supported',
  })
  async metadata(@Param('tenant') slug: string) {
    const tenant = await this.tenants.resolve(slug);
    if (!tenant) throw new NotFoundException(`tenant "${slug}" not found`);
    const issuer = tenant.settings.auth?.jwt?.issuer;
    return {
      resource: resourceUrl(this.config.publicUrl, tenant.slug),
      ...(issuer ? { authorization_servers: [issuer] } : {}),
      scopes_supported: (await this.catalog.forTenant(tenant.id)).scopes(),
      bearer_methods_supported: ['header'],
      resource_name: tenant.name,
    };
  }
}
