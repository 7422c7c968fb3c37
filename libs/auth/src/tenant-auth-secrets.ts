import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PlatformSecrets, Tenant } from '@app/tenancy';
import { TENANT_AUTH_SECRETS } from './authenticators/introspection.authenticator';

/**
 * After a SECRETS_KEY rotation, tenants' introspection client secrets are sealed again under the
 * current key at start, so that SECRETS_KEY_PREVIOUS can be dropped once every replica has run.
 */
@Injectable()
export class TenantAuthSecrets implements OnApplicationBootstrap {
  private readonly logger = new Logger(TenantAuthSecrets.name);

  constructor(
    @InjectRepository(Tenant) private readonly tenants: Repository<Tenant>,
    private readonly secrets: PlatformSecrets,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const rows = await this.tenants
      .createQueryBuilder('t')
      .select(['t.id', 't.settings'])
      .where(`t.settings -> 'auth' -> 'introspection' IS NOT NULL`)
      .getMany();
    let resealed = 0;
    for (const row of rows) {
      const sealed = row.settings.auth?.introspection?.clientSecretSealed;
      if (!sealed || this.secrets.isCurrent(TENANT_AUTH_SECRETS, sealed)) continue;
      try {
        const again = this.secrets.seal(
          TENANT_AUTH_SECRETS,
          this.secrets.open(TENANT_AUTH_SECRETS, sealed),
        );
        // Only this one value changes, and only if nobody replaced it meanwhile.
        await this.tenants.query(
          `UPDATE tenants SET settings = jsonb_set(settings, '{auth,introspection,clientSecretSealed}', to_jsonb($2::text))
            WHERE id = $1 AND settings #>> '{auth,introspection,clientSecretSealed}' = $3`,
          [row.id, again, sealed],
        );
        resealed++;
      } catch (err) {
        this.logger.error(
          `the introspection client secret of tenant ${row.id} does not open: ${(err as Error).message}`,
        );
      }
    }
    if (resealed) {
      this.logger.log(`re-sealed ${resealed} tenant introspection secret(s) under the current key`);
    }
  }
}
