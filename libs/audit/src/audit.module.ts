import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEvent } from './audit-event.entity';
import { AuditQueryService } from './audit-query.service';
import { AuditRetention } from './audit-retention';
import { AuditWriter } from './audit-writer';

@Global()
@Module({
  imports: [TypeOrmModule.forFeature([AuditEvent])],
  providers: [AuditWriter, AuditQueryService, AuditRetention],
  exports: [AuditWriter, AuditQueryService, AuditRetention],
})
export class AuditModule {}
