export * from './http-exception.filter';
export * from './logging';
export * from './observability.module';
export * from './json-body';
export * from './json-body.interceptor';
export * from './metrics';
