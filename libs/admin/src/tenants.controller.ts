import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Req,
} from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { z } from 'zod';
import { Authenticated, type AuthenticatedRequest } from '@app/auth';
import { AdminAudit } from './admin-audit';
import { TenantsService } from '@app/tenancy';
import { schemaRef } from './openapi-schemas';
import { CreateTenantBody, page, PageQuery, TenantView, UpdateTenantBody } from './schemas';
import { JsonBody, QueryParams } from './validation';
import { pageView, tenantView } from './views';

const TenantRef = schemaRef('Tenant', TenantView);
const TenantPageRef = schemaRef('TenantPage', page(TenantView));

@ApiTags('tenants')
@Controller('admin/tenants')
export class TenantsController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly audit: AdminAudit,
  ) {}

  @Post()
  @Authenticated('platform')
  @ApiOperation({ summary: 'Create a tenant' })
  @JsonBody('CreateTenant', CreateTenantBody)
  @ApiCreatedResponse({ schema: TenantRef })
  @ApiConflictResponse({ description: 'The slug is taken' })
  async create(@Req() req: AuthenticatedRequest, @Body() body: z.output<typeof CreateTenantBody>) {
    const { allowedOrigins, ...rest } = body;
    const tenant = await this.tenants.create({ ...rest, settings: { allowedOrigins } });
    this.audit.changed(req, tenant.id, 'tenant.create', { slug: tenant.slug, name: tenant.name });
    return tenantView(tenant);
  }

  @Get()
  @Authenticated('platform')
  @ApiOperation({ summary: 'List tenants, oldest first' })
  @QueryParams(PageQuery)
  @ApiOkResponse({ schema: TenantPageRef })
  async list(@Query() query: z.output<typeof PageQuery>) {
    return pageView(await this.tenants.list(query), tenantView);
  }

  @Get(':tenant')
  @Authenticated('tenant-admin')
  @ApiOperation({ summary: 'Get a tenant by slug' })
  @ApiOkResponse({ schema: TenantRef })
  @ApiNotFoundResponse({ description: 'No such tenant' })
  async get(@Param('tenant') slug: string) {
    return tenantView(await this.tenants.getBySlug(slug));
  }

  @Patch(':tenant')
  @Authenticated('platform')
  @ApiOperation({ summary: 'Rename, suspend or reactivate a tenant' })
  @JsonBody('UpdateTenant', UpdateTenantBody)
  @ApiOkResponse({ schema: TenantRef })
  @ApiNotFoundResponse({ description: 'No such tenant' })
  async update(
    @Req() req: AuthenticatedRequest,
    @Param('tenant') slug: string,
    @Body() body: z.output<typeof UpdateTenantBody>,
  ) {
    const tenant = await this.tenants.update(slug, body);
    this.audit.changed(req, tenant.id, 'tenant.update', { changed: body });
    return tenantView(tenant);
  }

  @Delete(':tenant')
  @HttpCode(204)
  @Authenticated('platform')
  @ApiOperation({ summary: 'Delete a tenant with its keys, grants, notes and audit log' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse({ description: 'No such tenant' })
  async remove(@Req() req: AuthenticatedRequest, @Param('tenant') slug: string): Promise<void> {
    const tenant = await this.tenants.remove(slug);
    // The tenant's own audit log goes with it; this platform-level event stays.
    this.audit.changed(req, null, 'tenant.delete', { tenantId: tenant.id, slug: tenant.slug });
  }
}
