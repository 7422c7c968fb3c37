import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuditModule } from '@app/audit';
import { EgressModule } from '@app/egress';
import { ObservabilityModule } from '@app/observability';
import { RateLimitModule } from '@app/ratelimit';
import { TenancyModule } from '@app/tenancy';
import { AdminTokenService } from './admin-token.service';
import { ApiKeyVerifier } from './api-key.verifier';
import { AuthEvents } from './auth-events';
import { AdminTokenAuthenticator } from './authenticators/admin-token.authenticator';
import { ApiKeyAuthenticator } from './authenticators/api-key.authenticator';
import { AUTHENTICATORS, type Authenticator } from './authenticators/authenticator';
import { ExternalAuthenticator } from './authenticators/external.authenticator';
import { IntrospectionAuthenticator } from './authenticators/introspection.authenticator';
import { JwtAuthenticator } from './authenticators/jwt.authenticator';
import { IssuerMetadata } from './issuer-metadata';
import { JwksCache } from './jwks-cache';
import { PlatformAuthGuard } from './platform-auth.guard';
import { RateLimitGuard } from './rate-limit.guard';
import { TenantAuthSecrets } from './tenant-auth-secrets';
import { TenantResolver } from './tenant-resolver';

/**
 * The order in which the guard asks: the first authenticator that recognises a credential decides.
 * A new credential kind is one class implementing Authenticator, added here.
 */
const ORDER = [
  ApiKeyAuthenticator,
  AdminTokenAuthenticator,
  JwtAuthenticator,
  IntrospectionAuthenticator,
  ExternalAuthenticator,
] as const;

@Module({
  imports: [TenancyModule, RateLimitModule, AuditModule, ObservabilityModule, EgressModule],
  providers: [
    AuthEvents,
    AdminTokenService,
    ApiKeyVerifier,
    JwksCache,
    IssuerMetadata,
    TenantResolver,
    TenantAuthSecrets,
    ...ORDER,
    {
      provide: AUTHENTICATORS,
      inject: [...ORDER],
      useFactory: (...authenticators: Authenticator[]) => authenticators,
    },
    // Global guards run in the order they are provided: authentication, then rate limits.
    { provide: APP_GUARD, useClass: PlatformAuthGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
  exports: [
    AdminTokenService,
    ApiKeyVerifier,
    JwksCache,
    IssuerMetadata,
    IntrospectionAuthenticator,
  ],
})
export class AuthModule {}
