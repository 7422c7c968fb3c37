export * from './database.module';
export * from './data-source';
export * from './embedded-postgres';
export * from './pg-errors';
export * from './redact-url';
export * from './cursor';
export * from './with-data-source';
export * from './storable-text';
