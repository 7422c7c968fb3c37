import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EgressModule } from '@app/egress';
import { TenancyModule } from '@app/tenancy';
import { ToolsModule } from '@app/tools';
import { McpConnector } from './mcp-connector';
import { OpenApiConnector } from './openapi-connector';
import { SourceCatalog } from './source-catalog';
import { SourcesService } from './sources.service';
import { ToolSourceRecord } from './tool-source.entity';

/** Tenants' tool sources: registers their tools with the ToolCatalog and serves the admin API. */
@Module({
  imports: [TenancyModule, ToolsModule, EgressModule, TypeOrmModule.forFeature([ToolSourceRecord])],
  providers: [McpConnector, OpenApiConnector, SourceCatalog, SourcesService],
  exports: [SourcesService, SourceCatalog],
})
export class SourcesModule {}
