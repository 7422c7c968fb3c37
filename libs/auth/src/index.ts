export * from './admin-token.service';
export * from './api-key.verifier';
export * from './auth.module';
export * from './challenge';
export * from './credentials';
export * from './decorators';
export * from './platform-auth.guard';
export * from './principal';
