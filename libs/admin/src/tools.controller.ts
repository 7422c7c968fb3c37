import { Body, Get, NotFoundException, Param, Put } from '@nestjs/common';
import { z } from 'zod';
import { CurrentTenant } from '@app/auth';
import { Tenant, ToolGrantsService } from '@app/tenancy';
import { ToolCatalog } from '@app/tools';
import { Actor, type AdminActor, AdminAudit } from './admin-audit';
import { schemaRef } from './openapi-schemas';
import { Documented, TenantAdminController } from './route';
import { SetToolBody } from './schemas';
import { JsonBody } from './validation';
import { ToolView } from './views';

const ToolListRef = schemaRef('ToolList', z.object({ items: z.array(ToolView.schema) }));

@TenantAdminController('tools', 'tools')
export class ToolsController {
  constructor(
    private readonly grants: ToolGrantsService,
    private readonly catalog: ToolCatalog,
    private readonly audit: AdminAudit,
  ) {}

  @Get()
  @Documented({
    summary:
      'The tool catalog as this tenant sees it (built-in tools and its sources’ tools): scopes needed, enabled or not',
    ok: ToolListRef,
  })
  async list(@CurrentTenant() tenant: Tenant) {
    const [catalog, grants] = await Promise.all([
      this.catalog.forTenant(tenant.id),
      this.grants.forTenant(tenant.id),
    ]);
    return { items: [...catalog.all()].map((tool) => ToolView.render({ tool, grants })) };
  }

  @Put(':name')
  @Documented({
    summary:
      'Enable or disable a tool for the tenant; open MCP sessions are told their tool list changed',
    ok: ToolView.ref,
    notFound: 'No such tenant or tool',
  })
  @JsonBody('SetTool', SetToolBody)
  async set(
    @Actor() actor: AdminActor,
    @CurrentTenant() tenant: Tenant,
    @Param('name') name: string,
    @Body() body: z.output<typeof SetToolBody>,
  ) {
    const tool = (await this.catalog.forTenant(tenant.id)).get(name);
    if (!tool)
      throw new NotFoundException(`no tool named "${name}"; GET the tools list for the catalog`);
    await this.grants.set(tenant.id, tool.name, body.enabled);
    this.audit.changed(actor, tenant.id, 'tool.grant', { tool: tool.name, enabled: body.enabled });
    return ToolView.render({ tool, grants: await this.grants.forTenant(tenant.id) });
  }
}
