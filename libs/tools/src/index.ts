export * from './argument-limits';
export * from './decorators';
export * from './tool-context';
export * from './tool-policy';
export * from './tool-registry';
export * from './tools.module';
export * from './tool-invoker';
