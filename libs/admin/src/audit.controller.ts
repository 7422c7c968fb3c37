import { Controller, Get, Param, Query } from '@nestjs/common';
import {
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { z } from 'zod';
import { AuditEvent, AuditQueryService } from '@app/audit';
import { Authenticated } from '@app/auth';
import { TenantsService } from '@app/tenancy';
import { schemaRef } from './openapi-schemas';
import { AuditEventView, AuditQuery, page } from './schemas';
import { QueryParams } from './validation';
import { pageView } from './views';

const AuditPageRef = schemaRef('AuditEventPage', page(AuditEventView));

const view = (e: AuditEvent) => ({
  id: e.id,
  at: e.at.toISOString(),
  actorKind: e.actorKind,
  actorId: e.actorId,
  action: e.action,
  tool: e.tool,
  keyId: e.keyId,
  outcome: e.outcome,
  durationMs: e.durationMs,
  requestId: e.requestId,
  detail: e.detail,
});

@ApiTags('audit')
@ApiParam({ name: 'tenant', description: 'tenant slug' })
@Authenticated('tenant-admin')
@Controller('admin/tenants/:tenant/audit')
export class AuditController {
  constructor(
    private readonly tenants: TenantsService,
    private readonly audit: AuditQueryService,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      'The tenant’s audit log, newest first: tool calls, refused credentials, admin changes. Written in batches, so the last second may not be there yet.',
  })
  @QueryParams(AuditQuery)
  @ApiOkResponse({ schema: AuditPageRef })
  @ApiNotFoundResponse({ description: 'No such tenant' })
  async list(@Param('tenant') slug: string, @Query() query: z.output<typeof AuditQuery>) {
    const tenant = await this.tenants.getBySlug(slug);
    return pageView(await this.audit.list(tenant.id, query), view);
  }
}
