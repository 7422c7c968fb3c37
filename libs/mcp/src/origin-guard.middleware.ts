import { ForbiddenException, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { PlatformConfig } from '@app/config';
import { TenantsService } from '@app/tenancy';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function hostnameOf(hostHeader: string): string {
  try {
    return new URL(`http://${hostHeader}`).hostname;
  } catch {
    return '';
  }
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    return LOOPBACK_HOSTS.has(new URL(origin).hostname);
  } catch {
    return false;
  }
}

/**
 * Browser-facing protections of the MCP endpoints, before authentication: an `Origin` the tenant
 * does not allow is refused, and when the platform listens on loopback a `Host` other than a
 * loopback name or PUBLIC_URL's host is refused (DNS rebinding).
 */
@Injectable()
export class OriginGuardMiddleware implements NestMiddleware {
  private readonly loopbackBound: boolean;
  private readonly publicOrigin: string;
  private readonly publicHost: string;

  constructor(
    private readonly config: PlatformConfig,
    private readonly tenants: TenantsService,
  ) {
    this.loopbackBound = LOOPBACK_HOSTS.has(config.host);
    const publicUrl = new URL(config.publicUrl);
    this.publicOrigin = publicUrl.origin;
    this.publicHost = publicUrl.hostname;
  }

  async use(req: Request, _res: Response, next: NextFunction): Promise<void> {
    if (this.loopbackBound) {
      const host = hostnameOf(req.headers.host ?? '');
      if (!LOOPBACK_HOSTS.has(host) && host !== this.publicHost) {
        throw new ForbiddenException(
          `Host "${host}" is not served here (DNS rebinding protection); set PUBLIC_URL to the address clients use`,
        );
      }
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !(await this.originAllowed(origin, req.originalUrl))) {
      throw new ForbiddenException(
        `Origin ${origin} is not allowed for this tenant; add it to the tenant's allowedOrigins`,
      );
    }
    next();
  }

  private async originAllowed(origin: string, url: string): Promise<boolean> {
    if (origin === this.publicOrigin || this.config.allowedOrigins.includes(origin)) return true;
    if (this.loopbackBound && isLoopbackOrigin(origin)) return true;
    const slug = /^\/t\/([^/?]+)/.exec(url)?.[1];
    const tenant = slug ? await this.tenants.resolve(decodeURIComponent(slug)) : null;
    return !!tenant?.settings.allowedOrigins?.includes(origin);
  }
}
