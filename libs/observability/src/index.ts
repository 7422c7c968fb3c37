export * from './http-exception.filter';
export * from './logging';
export * from './observability.module';
export * from './body-parser-errors';
export * from './metrics';
