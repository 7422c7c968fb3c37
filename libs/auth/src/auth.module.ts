import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { AdminTokenService } from './admin-token.service';
import { ApiKeyVerifier } from './api-key.verifier';
import { PlatformAuthGuard } from './platform-auth.guard';
import { AdminTokenStrategy } from './strategies/admin-token.strategy';
import { ApiKeyStrategy } from './strategies/api-key.strategy';
import { JwtStrategy } from './strategies/jwt.strategy';
import { JwksCache } from './jwks-cache';

@Global()
@Module({
  imports: [PassportModule],
  providers: [
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
