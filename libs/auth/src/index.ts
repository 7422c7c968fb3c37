export * from './admin-token.service';
export * from './api-key.verifier';
export * from './auth.module';
export * from './auth-events';
export {
  AUTHENTICATORS,
  type AuthAttempt,
  type Authenticator,
} from './authenticators/authenticator';
export { EXTERNAL_RESERVED_HEADERS } from './authenticators/external.authenticator';
export {
  IntrospectionAuthenticator,
  ProbeFailed,
  TENANT_AUTH_SECRETS,
} from './authenticators/introspection.authenticator';
export * from './challenge';
export * from './credentials';
export * from './decorators';
export * from './issuer-metadata';
export * from './jwks-cache';
export * from './platform-auth.guard';
export * from './principal';
export * from './refusal';
