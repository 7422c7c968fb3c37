import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
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
import { Authenticated, type AuthenticatedRequest } from '@app/auth';
import { ApiKeysService, TenantsService } from '@app/tenancy';
import { ToolRegistry } from '@app/tools';
import { AdminAudit } from './admin-audit';
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
    private readonly audit: AdminAudit,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create an API key; the response is the only time its secret is shown' })
  @JsonBody('CreateApiKey', CreateKeyBody)
  @ApiCreatedResponse({ schema: IssuedKeyRef })
  @ApiNotFoundResponse({ description: 'No such tenant' })
  async create(
    @Req() req: AuthenticatedRequest,
    @Param('tenant') slug: string,
    @Body() body: z.output<typeof CreateKeyBody>,
  ) {
    assertKnown(this.registry, body);
    const tenant = await this.tenants.getBySlug(slug);
    const issued = await this.keys.create(tenant.id, body);
    this.audit.changed(req, tenant.id, 'key.create', {
      keyId: issued.key.id,
      name: issued.key.name,
      scopes: issued.key.scopes,
      tools: issued.key.tools,
    });
    return issuedKeyView(issued, tenant.slug);
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
    @Req() req: AuthenticatedRequest,
    @Param('tenant') slug: string,
    @Param('id') id: string,
    @Body() body: z.output<typeof UpdateKeyBody>,
  ) {
    assertKnown(this.registry, body);
    const tenant = await this.tenants.getBySlug(slug);
    const key = await this.keys.update(tenant.id, id, body);
    this.audit.changed(req, tenant.id, 'key.update', { keyId: key.id, changed: body });
    return apiKeyView(key, tenant.slug);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a key; it stops working on the next request' })
  @ApiOkResponse({ schema: KeyRef })
  async revoke(
    @Req() req: AuthenticatedRequest,
    @Param('tenant') slug: string,
    @Param('id') id: string,
  ) {
    const tenant = await this.tenants.getBySlug(slug);
    const key = await this.keys.revoke(tenant.id, id);
    this.audit.changed(req, tenant.id, 'key.revoke', { keyId: key.id, name: key.name });
    return apiKeyView(key, tenant.slug);
  }

  @Post(':id/rotate')
  @ApiOperation({
    summary: 'Issue a new secret for a key; the old one keeps working for graceSeconds (default 0)',
  })
  @JsonBody('RotateApiKey', RotateKeyBody)
  @ApiCreatedResponse({ schema: IssuedKeyRef })
  @ApiConflictResponse({ description: 'The key is revoked' })
  async rotate(
    @Req() req: AuthenticatedRequest,
    @Param('tenant') slug: string,
    @Param('id') id: string,
    @Body() body: z.output<typeof RotateKeyBody>,
  ) {
    const tenant = await this.tenants.getBySlug(slug);
    const issued = await this.keys.rotate(tenant.id, id, body.graceSeconds);
    this.audit.changed(req, tenant.id, 'key.rotate', {
      keyId: issued.key.id,
      graceSeconds: body.graceSeconds,
    });
    return issuedKeyView(issued, tenant.slug);
  }
}
