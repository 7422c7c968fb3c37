import { DynamicModule, Global, Module, Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { AdminTokenService } from './admin-token.service';
import { AuthEvents } from './auth-events';
import { ApiKeyVerifier } from './api-key.verifier';
import { PlatformAuthGuard } from './platform-auth.guard';
import { AdminTokenStrategy } from './strategies/admin-token.strategy';
import { ApiKeyStrategy } from './strategies/api-key.strategy';
import { JwtStrategy } from './strategies/jwt.strategy';
import { JwksCache } from './jwks-cache';

@Global()
@Module({})
export class AuthModule {
  /** `events` receives refusals and rate-limit hits (metrics, audit); a no-op by default. */
  static forRoot(options: { events?: Type<AuthEvents> } = {}): DynamicModule {
    return {
      module: AuthModule,
      imports: [PassportModule],
      providers: [
        { provide: AuthEvents, useClass: options.events ?? AuthEvents },
        AdminTokenService,
        ApiKeyVerifier,
        ApiKeyStrategy,
        AdminTokenStrategy,
        JwtStrategy,
        JwksCache,
        { provide: APP_GUARD, useClass: PlatformAuthGuard },
      ],
      exports: [AdminTokenService, ApiKeyVerifier, JwksCache],
    };
  }
}
