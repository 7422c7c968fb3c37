import { Get, Query } from '@nestjs/common';
import { z } from 'zod';
import { AuditQueryService } from '@app/audit';
import { CurrentTenant } from '@app/auth';
import { Tenant } from '@app/tenancy';
import { Documented, TenantAdminController } from './route';
import { AuditHourlyQuery, AuditQuery } from './schemas';
import { QueryParams } from './validation';
import { AuditEventView, AuditHourlyView, pageOf } from './views';

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

  @Get('hourly')
  @Documented({
    summary:
      'Tool calls, errors and denials per hour (UTC) for the last `hours` hours (default 24, at most 168), oldest first, hours without events as zeros; the console draws its chart from it.',
    ok: AuditHourlyView.ref,
    notFound: 'No such tenant',
  })
  @QueryParams(AuditHourlyQuery)
  async hourly(@CurrentTenant() tenant: Tenant, @Query() query: z.output<typeof AuditHourlyQuery>) {
    return AuditHourlyView.render(await this.audit.hourly(tenant.id, query.hours));
  }
}
