export * from './admin.module';
export * from './openapi-schemas';
export * from './schemas';
export * from './validation';
