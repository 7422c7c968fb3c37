import { Body, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { CurrentTenant } from '@app/auth';
import { ApiKeysService, Tenant } from '@app/tenancy';
import { CapabilityRegistry, ToolCatalog } from '@app/tools';
import { Actor, type AdminActor, AdminAudit } from './admin-audit';
import { assertKnown } from './catalog';
import { Documented, TenantAdminController } from './route';
import { CreateKeyBody, PageQuery, RotateKeyBody, UpdateKeyBody } from './schemas';
import { JsonBody, QueryParams } from './validation';
import { ApiKeyView, IssuedApiKeyView, pageOf } from './views';

const ApiKeyPage = pageOf('ApiKeyPage', ApiKeyView);
const REVOKED = 'The key is revoked';

@TenantAdminController('keys', 'keys')
export class KeysController {
  constructor(
    private readonly keys: ApiKeysService,
    private readonly catalog: ToolCatalog,
    private readonly capabilities: CapabilityRegistry,
    private readonly audit: AdminAudit,
  ) {}

  @Post()
  @Documented({
    summary: 'Create an API key; the response is the only time its secret is shown',
    created: IssuedApiKeyView.ref,
    notFound: 'No such tenant',
  })
  @JsonBody('CreateApiKey', CreateKeyBody)
  async create(
    @Actor() actor: AdminActor,
    @CurrentTenant() tenant: Tenant,
    @Body() body: z.output<typeof CreateKeyBody>,
  ) {
    assertKnown(await this.catalog.forTenant(tenant.id), this.capabilities, body);
    const issued = await this.keys.create(tenant.id, body);
    const { id: keyId, name, scopes, tools, resources, prompts } = issued.key;
    this.audit.changed(actor, tenant.id, 'key.create', {
      keyId,
      name,
      scopes,
      tools,
      resources,
      prompts,
    });
    return IssuedApiKeyView.render({ issued, tenant });
  }

  @Get()
  @Documented({
    summary: 'List the tenant’s API keys, oldest first (never their secrets)',
    ok: ApiKeyPage.ref,
  })
  @QueryParams(PageQuery)
  async list(@CurrentTenant() tenant: Tenant, @Query() query: z.output<typeof PageQuery>) {
    const keys = await this.keys.list(tenant.id, query);
    return ApiKeyPage.render({ ...keys, items: keys.items.map((key) => ({ key, tenant })) });
  }

  @Get(':id')
  @Documented({ summary: 'Get an API key', ok: ApiKeyView.ref, notFound: 'No such tenant or key' })
  async get(@CurrentTenant() tenant: Tenant, @Param('id') id: string) {
    return ApiKeyView.render({ key: await this.keys.get(tenant.id, id), tenant });
  }

  @Patch(':id')
  @Documented({
    summary:
      'Rename a key or change its scopes, allow-lists (tools, resources, prompts), rate limit or expiry',
    ok: ApiKeyView.ref,
    conflict: REVOKED,
  })
  @JsonBody('UpdateApiKey', UpdateKeyBody)
  async update(
    @Actor() actor: AdminActor,
    @CurrentTenant() tenant: Tenant,
    @Param('id') id: string,
    @Body() body: z.output<typeof UpdateKeyBody>,
  ) {
    assertKnown(await this.catalog.forTenant(tenant.id), this.capabilities, body);
    const key = await this.keys.update(tenant.id, id, body);
    this.audit.changed(actor, tenant.id, 'key.update', { keyId: key.id, changed: body });
    return ApiKeyView.render({ key, tenant });
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @Documented({
    summary: 'Revoke a key; it stops working on the next request',
    ok: ApiKeyView.ref,
  })
  async revoke(
    @Actor() actor: AdminActor,
    @CurrentTenant() tenant: Tenant,
    @Param('id') id: string,
  ) {
    const key = await this.keys.revoke(tenant.id, id);
    this.audit.changed(actor, tenant.id, 'key.revoke', { keyId: key.id, name: key.name });
    return ApiKeyView.render({ key, tenant });
  }

  @Post(':id/rotate')
  @Documented({
    summary: 'Issue a new secret for a key; the old one keeps working for graceSeconds (default 0)',
    created: IssuedApiKeyView.ref,
    conflict: REVOKED,
  })
  @JsonBody('RotateApiKey', RotateKeyBody)
  async rotate(
    @Actor() actor: AdminActor,
    @CurrentTenant() tenant: Tenant,
    @Param('id') id: string,
    @Body() body: z.output<typeof RotateKeyBody>,
  ) {
    const { graceSeconds } = body;
    const issued = await this.keys.rotate(tenant.id, id, graceSeconds);
    this.audit.changed(actor, tenant.id, 'key.rotate', { keyId: issued.key.id, graceSeconds });
    return IssuedApiKeyView.render({ issued, tenant });
  }
}
