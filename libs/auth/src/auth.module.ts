import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuditModule } from '@app/audit';
import { EgressModule } from '@app/egress';
import { ObservabilityModule } from '@app/observability';
import { RateLimitModule } from '@app/ratelimit';
import { TenancyModule } from '@app/tenancy';
import { AdminTokenService } from './admin-token.service';
import { AuthEvents } from './auth-events';
import { ApiKeyVerifier } from './api-key.verifier';
import { PlatformAuthGuard } from './platform-auth.guard';
import { AdminTokenStrategy } from './strategies/admin-token.strategy';
import { ApiKeyStrategy } from './strategies/api-key.strategy';
import { JwtStrategy } from './strategies/jwt.strategy';
import { JwksCache } from './jwks-cache';

@Module({
  imports: [TenancyModule, RateLimitModule, AuditModule, ObservabilityModule, EgressModule],
  providers: [
    AuthEvents,
    AdminTokenService,
    ApiKeyVerifier,
    ApiKeyStrategy,
    AdminTokenStrategy,
    JwtStrategy,
    JwksCache,
    { provide: APP_GUARD, useClass: PlatformAuthGuard },
  ],
  exports: [AdminTokenService, ApiKeyVerifier, JwksCache],
})
export class AuthModule {}
