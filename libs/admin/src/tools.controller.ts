import { Body, Controller, Get, NotFoundException, Param, Put, Req } from '@nestjs/common';
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
import { TenantsService, ToolGrantsService } from '@app/tenancy';
import { ToolDefinition, ToolRegistry } from '@app/tools';
import { schemaRef } from './openapi-schemas';
import { SetToolBody, ToolView } from './schemas';
import { JsonBody } from './validation';

const ToolRef = schemaRef('Tool', ToolView);
const ToolListRef = schemaRef('ToolList', z.object({ items: z.array(ToolView) }));

const view = (t: ToolDefinition, grants: ReadonlyMap<string, boolean>) => ({
  name: t.name,
  title: t.title ?? null,
  description: t.description,
  requiredScopes: [...t.requiredScopes],
  enabled: grants.get(t.name) !== false,
});

@ApiTags('tools')
@ApiParam({ name: 'tenant', description: 'tenant slug' })
@Authenticated('tenant-admin')
@Controller('admin/tenants/:tenant/tools')
export class ToolsController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly grants: ToolGrantsService,
    private readonly registry: ToolRegistry,
    private readonly audit: AdminAudit,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'The tool catalog as this tenant sees it: scopes needed, enabled or not',
  })
  @ApiOkResponse({ schema: ToolListRef })
  async list(@Param('tenant') slug: string) {
    const tenant = await this.tenants.getBySlug(slug);
    const grants = await this.grants.forTenant(tenant.id);
    return { items: [...this.registry.all()].map((t) => view(t, grants)) };
  }

  @Put(':name')
  @ApiOperation({
    summary:
      'Enable or disable a tool for the tenant; open MCP sessions are told their tool list changed',
  })
  @JsonBody('SetTool', SetToolBody)
  @ApiOkResponse({ schema: ToolRef })
  @ApiNotFoundResponse({ description: 'No such tenant or tool' })
  async set(
    @Req() req: AuthenticatedRequest,
    @Param('tenant') slug: string,
    @Param('name') name: string,
    @Body() body: z.output<typeof SetToolBody>,
  ) {
    const tenant = await this.tenants.getBySlug(slug);
    const tool = this.registry.get(name);
    if (!tool)
      throw new NotFoundException(`no tool named "${name}"; GET the tools list for the catalog`);
    await this.grants.set(tenant.id, tool.name, body.enabled);
    this.audit.changed(req, tenant.id, 'tool.grant', { tool: tool.name, enabled: body.enabled });
    return view(tool, await this.grants.forTenant(tenant.id));
  }
}
