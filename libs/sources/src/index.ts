export * from './tool-source.entity';
export * from './sources.service';
export * from './sources.module';
export { SourceCatalog, type SourceHealth } from './source-catalog';
export { PREFIX_RULE, unnamedReason, sourceToolName } from './source-names';
export { type BreakerState } from './source-gate';
