import { Injectable } from '@nestjs/common';
import type { Tenant } from '@app/tenancy';
import type { RefusalReason } from './refusal';

export interface CredentialRefusal {
  /** Set when the route named a known tenant: the refusal belongs in that tenant's audit log. */
  tenant?: Tenant;
  reason: RefusalReason;
  message: string;
  address: string;
  requestId?: string;
  route: string;
}

/**
 * What the guard tells the rest of the platform (metrics, audit). The app binds an implementation
 * through AuthModule.forRoot, keeping auth free of those libraries.
 */
@Injectable()
export class AuthEvents {
  credentialRefused(_event: CredentialRefusal): void {}
  rateLimited(_limit: string): void {}
}
