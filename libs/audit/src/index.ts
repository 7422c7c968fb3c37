export * from './audit-event.entity';
export * from './audit-query.service';
export * from './audit-record';
export * from './audit-retention';
export * from './audit-spill';
export * from './audit-writer';
export * from './audit.module';
export * from './audit.types';
