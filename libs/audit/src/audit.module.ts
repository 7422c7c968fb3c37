import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseModule } from '@app/database';
import { ObservabilityModule } from '@app/observability';
import { AuditEvent } from './audit-event.entity';
import { AuditQueryService } from './audit-query.service';
import { AuditRetention } from './audit-retention';
import { AuditWriter } from './audit-writer';

@Module({
  imports: [DatabaseModule, ObservabilityModule, TypeOrmModule.forFeature([AuditEvent])],
  providers: [AuditWriter, AuditQueryService, AuditRetention],
  exports: [AuditWriter, AuditQueryService, AuditRetention],
})
export class AuditModule {}
