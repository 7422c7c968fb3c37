import { Body, Get, NotFoundException, Param, Put } from '@nestjs/common';
import { z } from 'zod';
import { CurrentTenant } from '@app/auth';
import { Tenant, ToolGrantsService } from '@app/tenancy';
import { CapabilityRegistry, grantKey } from '@app/tools';
import { Actor, type AdminActor, AdminAudit } from './admin-audit';
import { schemaRef } from './openapi-schemas';
import { Documented, TenantAdminController } from './route';
import { SetToolBody } from './schemas';
import { JsonBody } from './validation';
import { PromptView, ResourceView } from './views';

const ResourceListRef = schemaRef(
  'ResourceList',
  z.object({ items: z.array(ResourceView.schema) }),
);
const PromptListRef = schemaRef('PromptList', z.object({ items: z.array(PromptView.schema) }));

/** Stores a tenant's switch, audits it (`resource.grant` / `prompt.grant`), and reads them back. */
async function switchGrant(
  grants: ToolGrantsService,
  audit: AdminAudit,
  actor: AdminActor,
  tenant: Tenant,
  s: { kind: 'resource' | 'prompt'; name: string; enabled: boolean },
) {
  await grants.set(tenant.id, grantKey(s.kind, s.name), s.enabled);
  audit.changed(actor, tenant.id, `${s.kind}.grant`, { [s.kind]: s.name, enabled: s.enabled });
  return grants.forTenant(tenant.id);
}

@TenantAdminController('resources', 'resources')
export class ResourcesController {
  constructor(
    private readonly grants: ToolGrantsService,
    private readonly registry: CapabilityRegistry,
    private readonly audit: AdminAudit,
  ) {}

  @Get()
  @Documented({
    summary:
      'The resources and resource templates as this tenant sees them: scopes needed, enabled or not',
    ok: ResourceListRef,
  })
  async list(@CurrentTenant() tenant: Tenant) {
    const grants = await this.grants.forTenant(tenant.id);
    const all = [...this.registry.allResources(), ...this.registry.allTemplates()];
    return { items: all.map((resource) => ResourceView.render({ resource, grants })) };
  }

  @Put(':name')
  @Documented({
    summary: 'Enable or disable a resource or resource template for the tenant',
    ok: ResourceView.ref,
    notFound: 'No such tenant or resource',
  })
  @JsonBody('SetResource', SetToolBody)
  async set(
    @Actor() actor: AdminActor,
    @CurrentTenant() tenant: Tenant,
    @Param('name') name: string,
    @Body() body: z.output<typeof SetToolBody>,
  ) {
    const resource = this.registry.resourceNamed(name);
    if (!resource) {
      throw new NotFoundException(
        `no resource or resource template named "${name}"; GET the resources list for the catalog`,
      );
    }
    const grants = await switchGrant(this.grants, this.audit, actor, tenant, {
      kind: 'resource',
      name: resource.name,
      enabled: body.enabled,
    });
    return ResourceView.render({ resource, grants });
  }
}

@TenantAdminController('prompts', 'prompts')
export class PromptsController {
  constructor(
    private readonly grants: ToolGrantsService,
    private readonly registry: CapabilityRegistry,
    private readonly audit: AdminAudit,
  ) {}

  @Get()
  @Documented({
    summary: 'The prompts as this tenant sees them: arguments, scopes needed, enabled or not',
    ok: PromptListRef,
  })
  async list(@CurrentTenant() tenant: Tenant) {
    const grants = await this.grants.forTenant(tenant.id);
    return {
      items: [...this.registry.allPrompts()].map((prompt) => PromptView.render({ prompt, grants })),
    };
  }

  @Put(':name')
  @Documented({
    summary: 'Enable or disable a prompt for the tenant',
    ok: PromptView.ref,
    notFound: 'No such tenant or prompt',
  })
  @JsonBody('SetPrompt', SetToolBody)
  async set(
    @Actor() actor: AdminActor,
    @CurrentTenant() tenant: Tenant,
    @Param('name') name: string,
    @Body() body: z.output<typeof SetToolBody>,
  ) {
    const prompt = this.registry.prompt(name);
    if (!prompt) {
      throw new NotFoundException(
        `no prompt named "${name}"; GET the prompts list for the catalog`,
      );
    }
    const grants = await switchGrant(this.grants, this.audit, actor, tenant, {
      kind: 'prompt',
      name: prompt.name,
      enabled: body.enabled,
    });
    return PromptView.render({ prompt, grants });
  }
}
