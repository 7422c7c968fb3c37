import { Body, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { CurrentTenant } from '@app/auth';
import { SourceCatalog, SourcesService, type ToolSourceRecord } from '@app/sources';
import { Tenant, ToolGrantsService } from '@app/tenancy';
import { Actor, type AdminActor, AdminAudit } from './admin-audit';
import { Documented, TenantAdminController } from './route';
import { PageQuery } from './schemas';
import { CreateSourceBody, UpdateSourceBody } from './source-schemas';
import { SourcePage, SourceView } from './source-views';
import { JsonBody, QueryParams } from './validation';

const NOT_FOUND = 'No such tenant or tool source';

/** What an audit event may say about a source: never its secrets. */
function described(s: ToolSourceRecord) {
  return { sourceId: s.id, name: s.name, kind: s.kind, prefix: s.prefix, enabled: s.enabled };
}

@TenantAdminController('tool sources', 'sources')
export class SourcesController {
  constructor(
    private readonly sources: SourcesService,
    private readonly live: SourceCatalog,
    private readonly grants: ToolGrantsService,
    private readonly audit: AdminAudit,
  ) {}

  @Post()
  @Documented({
    summary:
      'Register an upstream MCP server or an OpenAPI service; its tools are read first and join the tenant’s catalog',
    created: SourceView.ref,
    notFound: 'No such tenant',
    conflict: 'The name or prefix is taken',
  })
  @JsonBody('CreateToolSource', CreateSourceBody)
  async create(
    @Actor() actor: AdminActor,
    @CurrentTenant() tenant: Tenant,
    @Body() body: z.output<typeof CreateSourceBody>,
  ) {
    const source = await this.sources.create(tenant.id, body);
    this.audit.changed(actor, tenant.id, 'source.create', {
      ...described(source),
      tools: source.catalog.length,
    });
    return this.view(tenant, source);
  }

  @Get()
  @Documented({
    summary: 'The tenant’s tool sources, oldest first (never their secrets)',
    ok: SourcePage.ref,
  })
  @QueryParams(PageQuery)
  async list(@CurrentTenant() tenant: Tenant, @Query() query: z.output<typeof PageQuery>) {
    const page = await this.sources.list(tenant.id, query);
    const grants = await this.grants.forTenant(tenant.id);
    return SourcePage.render({
      ...page,
      items: page.items.map((source) => ({
        source,
        grants,
        health: this.live.healthOf(source.id),
      })),
    });
  }

  @Get(':id')
  @Documented({
    summary: 'A tool source: its settings, tools, skipped tools and health',
    ok: SourceView.ref,
    notFound: NOT_FOUND,
  })
  async get(@CurrentTenant() tenant: Tenant, @Param('id') id: string) {
    return this.view(tenant, await this.sources.get(tenant.id, id));
  }

  @Patch(':id')
  @Documented({
    summary:
      'Change a tool source; a new URL, document, headers or credential is checked by reading its tools again',
    ok: SourceView.ref,
    notFound: NOT_FOUND,
    conflict: 'The name or prefix is taken',
  })
  @JsonBody('UpdateToolSource', UpdateSourceBody)
  async update(
    @Actor() actor: AdminActor,
    @CurrentTenant() tenant: Tenant,
    @Param('id') id: string,
    @Body() body: z.output<typeof UpdateSourceBody>,
  ) {
    const source = await this.sources.update(tenant.id, id, body);
    this.audit.changed(actor, tenant.id, 'source.update', {
      ...described(source),
      changed: Object.keys(body).sort(),
    });
    return this.view(tenant, source);
  }

  @Delete(':id')
  @HttpCode(204)
  @Documented({
    summary: 'Remove a tool source and its tools',
    noContent: 'Removed',
    notFound: NOT_FOUND,
  })
  async remove(
    @Actor() actor: AdminActor,
    @CurrentTenant() tenant: Tenant,
    @Param('id') id: string,
  ) {
    const source = await this.sources.remove(tenant.id, id);
    this.audit.changed(actor, tenant.id, 'source.delete', described(source));
  }

  @Post(':id/refresh')
  @HttpCode(200)
  @Documented({
    summary: 'Read the source’s tools again (open sessions are told when the list changed)',
    ok: SourceView.ref,
    notFound: NOT_FOUND,
  })
  async refresh(
    @Actor() actor: AdminActor,
    @CurrentTenant() tenant: Tenant,
    @Param('id') id: string,
  ) {
    const source = await this.sources.refresh(tenant.id, id);
    this.audit.changed(actor, tenant.id, 'source.refresh', {
      ...described(source),
      tools: source.catalog.length,
    });
    return this.view(tenant, source);
  }

  private async view(tenant: Tenant, source: ToolSourceRecord) {
    const grants = await this.grants.forTenant(tenant.id);
    return SourceView.render({ source, grants, health: this.live.healthOf(source.id) });
  }
}
