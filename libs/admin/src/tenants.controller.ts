import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { Authenticated, CurrentTenant } from '@app/auth';
import { Tenant, TenantsService } from '@app/tenancy';
import { Actor, type AdminActor, AdminAudit } from './admin-audit';
import { Documented } from './route';
import { CreateTenantBody, PageQuery, UpdateTenantBody } from './schemas';
import { JsonBody, QueryParams } from './validation';
import { pageOf, TenantView } from './views';

const TenantPage = pageOf('TenantPage', TenantView);
const NOT_FOUND = 'No such tenant';

@ApiTags('tenants')
@Controller('admin/tenants')
export class TenantsController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly audit: AdminAudit,
  ) {}

  @Post()
  @Authenticated('platform')
  @Documented({
    summary: 'Create a tenant',
    created: TenantView.ref,
    conflict: 'The slug is taken',
  })
  @JsonBody('CreateTenant', CreateTenantBody)
  async create(@Actor() actor: AdminActor, @Body() body: z.output<typeof CreateTenantBody>) {
    const { allowedOrigins, protocol, ...rest } = body;
    const tenant = await this.tenants.create({ ...rest, settings: { allowedOrigins, protocol } });
    this.audit.changed(actor, tenant.id, 'tenant.create', { slug: tenant.slug, name: tenant.name });
    return TenantView.render(tenant);
  }

  @Get()
  @Authenticated('platform')
  @Documented({ summary: 'List tenants, oldest first', ok: TenantPage.ref })
  @QueryParams(PageQuery)
  async list(@Query() query: z.output<typeof PageQuery>) {
    return TenantPage.render(await this.tenants.list(query));
  }

  @Get(':tenant')
  @Authenticated('tenant-admin')
  @Documented({ summary: 'Get a tenant by slug', ok: TenantView.ref, notFound: NOT_FOUND })
  get(@CurrentTenant() tenant: Tenant) {
    return TenantView.render(tenant);
  }

  @Patch(':tenant')
  @Authenticated('platform')
  @Documented({
    summary:
      'Rename, suspend or reactivate a tenant, or change its origins, limits or protocol posture',
    ok: TenantView.ref,
    notFound: NOT_FOUND,
  })
  @JsonBody('UpdateTenant', UpdateTenantBody)
  async update(
    @Actor() actor: AdminActor,
    @Param('tenant') slug: string,
    @Body() body: z.output<typeof UpdateTenantBody>,
  ) {
    const tenant = await this.tenants.update(slug, body);
    this.audit.changed(actor, tenant.id, 'tenant.update', { changed: body });
    return TenantView.render(tenant);
  }

  @Delete(':tenant')
  @HttpCode(204)
  @Authenticated('platform')
  @Documented({
    summary: 'Delete a tenant with its keys, grants, notes and audit log',
    noContent: 'Deleted',
    notFound: NOT_FOUND,
  })
  async remove(@Actor() actor: AdminActor, @Param('tenant') slug: string): Promise<void> {
    const tenant = await this.tenants.remove(slug);
    // The tenant's own audit log goes with it; this platform-level event stays.
    this.audit.changed(actor, null, 'tenant.delete', { tenantId: tenant.id, slug: tenant.slug });
  }
}
