import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { z } from 'zod';
import { Authenticated } from '@app/auth';
import { ApiKeysService, TenantsService } from '@app/tenancy';
import { ToolRegistry } from '@app/tools';
import { assertKnown } from './catalog';
import { schemaRef } from './openapi-schemas';
import {
  ApiKeyView,
  CreateKeyBody,
  IssuedApiKeyView,
  page,
  PageQuery,
  RotateKeyBody,
  UpdateKeyBody,
} from './schemas';
import { JsonBody, QueryParams } from './validation';
import { apiKeyView, issuedKeyView, pageView } from './views';

const KeyRef = schemaRef('ApiKey', ApiKeyView);
const IssuedKeyRef = schemaRef('IssuedApiKey', IssuedApiKeyView);
const KeyPageRef = schemaRef('ApiKeyPage', page(ApiKeyView));

@ApiTags('keys')
@ApiParam({ name: 'tenant', description: 'tenant slug' })
@Authenticated('tenant-admin')
@Controller('admin/tenants/:tenant/keys')
export class KeysController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly keys: ApiKeysService,
    private readonly registry: ToolRegistry,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create an API key; the response is the only time its secret is shown' })
  @JsonBody('CreateApiKey', CreateKeyBody)
  @ApiCreatedResponse({ schema: IssuedKeyRef })
  @ApiNotFoundResponse({ description: 'No such tenant' })
  async create(@Param('tenant') slug: string, @Body() body: z.output<typeof CreateKeyBody>) {
    assertKnown(this.registry, body);
    const tenant = await this.tenants.getBySlug(slug);
    return issuedKeyView(await this.keys.create(tenant.id, body), tenant.slug);
  }

  @Get()
  @ApiOperation({ summary: 'List the tenant’s API keys, oldest first (never their secrets)' })
  @QueryParams(PageQuery)
  @ApiOkResponse({ schema: KeyPageRef })
  async list(@Param('tenant') slug: string, @Query() query: z.output<typeof PageQuery>) {
    const tenant = await this.tenants.getBySlug(slug);
    return pageView(await this.keys.list(tenant.id, query), (k) => apiKeyView(k, tenant.slug));
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get an API key' })
  @ApiOkResponse({ schema: KeyRef })
  @ApiNotFoundResponse({ description: 'No such tenant or key' })
  async get(@Param('tenant') slug: string, @Param('id') id: string) {
    const tenant = await this.tenants.getBySlug(slug);
    return apiKeyView(await this.keys.get(tenant.id, id), tenant.slug);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Rename a key or change its scopes, tools or expiry' })
  @JsonBody('UpdateApiKey', UpdateKeyBody)
  @ApiOkResponse({ schema: KeyRef })
  @ApiConflictResponse({ description: 'The key is revoked' })
  async update(
    @Param('tenant') slug: string,
    @Param('id') id: string,
    @Body() body: z.output<typeof UpdateKeyBody>,
  ) {
    assertKnown(this.registry, body);
    const tenant = await this.tenants.getBySlug(slug);
    return apiKeyView(await this.keys.update(tenant.id, id, body), tenant.slug);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a key; it stops working on the next request' })
  @ApiOkResponse({ schema: KeyRef })
  async revoke(@Param('tenant') slug: string, @Param('id') id: string) {
    const tenant = await this.tenants.getBySlug(slug);
    return apiKeyView(await this.keys.revoke(tenant.id, id), tenant.slug);
  }

  @Post(':id/rotate')
  @ApiOperation({
    summary: 'Issue a new secret for a key; the old one keeps working for graceSeconds (default 0)',
  })
  @JsonBody('RotateApiKey', RotateKeyBody)
  @ApiCreatedResponse({ schema: IssuedKeyRef })
  @ApiConflictResponse({ description: 'The key is revoked' })
  async rotate(
    @Param('tenant') slug: string,
    @Param('id') id: string,
    @Body() body: z.output<typeof RotateKeyBody>,
  ) {
    const tenant = await this.tenants.getBySlug(slug);
    return issuedKeyView(await this.keys.rotate(tenant.id, id, body.graceSeconds), tenant.slug);
  }
}
