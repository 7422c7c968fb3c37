import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
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
import { Authenticated } from '@app/auth';
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
  constructor(private readonly tenants: TenantsService) {}

  @Post()
  @Authenticated('platform')
  @ApiOperation({ summary: 'Create a tenant' })
  @JsonBody('CreateTenant', CreateTenantBody)
  @ApiCreatedResponse({ schema: TenantRef })
  @ApiConflictResponse({ description: 'The slug is taken' })
  async create(@Body() body: z.output<typeof CreateTenantBody>) {
    const { allowedOrigins, ...rest } = body;
    return tenantView(await this.tenants.create({ ...rest, settings: { allowedOrigins } }));
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
  async update(@Param('tenant') slug: string, @Body() body: z.output<typeof UpdateTenantBody>) {
    return tenantView(await this.tenants.update(slug, body));
  }

  @Delete(':tenant')
  @HttpCode(204)
  @Authenticated('platform')
  @ApiOperation({ summary: 'Delete a tenant with its keys, grants, notes and audit log' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse({ description: 'No such tenant' })
  async remove(@Param('tenant') slug: string): Promise<void> {
    await this.tenants.remove(slug);
  }
}
