import { Get, Query } from '@nestjs/common';
import { z } from 'zod';
import { AuditQueryService } from '@app/audit';
import { CurrentTenant } from '@app/auth';
import { Tenant } from '@app/tenancy';
import { Documented, TenantAdminController } from './route';
import { AuditQuery } from './schemas';
import { QueryParams } from './validation';
import { AuditEventView, pageOf } from './views';

const AuditEventPage = pageOf('AuditEventPage', AuditEventView);

@TenantAdminController('audit', 'audit')
export class AuditController {
  constructor(private readonly audit: AuditQueryService) {}

  @Get()
  @Documented({
    summary:
      'The tenant’s audit log, newest first: tool calls, refused credentials, admin changes. Written in batches, so the last second may not be there yet.',
    ok: AuditEventPage.ref,
    notFound: 'No such tenant',
  })
  @QueryParams(AuditQuery)
  async list(@CurrentTenant() tenant: Tenant, @Query() query: z.output<typeof AuditQuery>) {
    return AuditEventPage.render(await this.audit.list(tenant.id, query));
  }
}
