import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TenancyModule } from '@app/tenancy';
import { CoreTools } from './builtin/core.tools';
import { MathTools } from './builtin/math.tools';
import { Note } from './builtin/note.entity';
import { NotesCapabilities } from './builtin/notes.capabilities';
import { NotesService } from './builtin/notes.service';
import { NotesTools } from './builtin/notes.tools';
import { CapabilityRegistry } from './capability-registry';
import { ResourceUpdates } from './resource-updates';
import { ToolCatalog } from './tool-catalog';
import { ToolRegistry } from './tool-registry';

@Module({
  imports: [DiscoveryModule, TenancyModule, TypeOrmModule.forFeature([Note])],
  providers: [
    ToolRegistry,
    ToolCatalog,
    CapabilityRegistry,
    ResourceUpdates,
    NotesService,
    CoreTools,
    MathTools,
    NotesTools,
    NotesCapabilities,
  ],
  exports: [ToolRegistry, ToolCatalog, CapabilityRegistry, ResourceUpdates],
})
export class ToolsModule {}
