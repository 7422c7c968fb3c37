import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PlatformConfig } from '@app/config';
import { PlatformSetting } from '@app/tenancy';

const SETTING = 'admin_token_sha256';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** How often a stored (generated) admin token hash is read again: rotation reaches replicas. */
export const ADMIN_TOKEN_REFRESH_MS = 10_000;

/**
 * The platform admin bearer token. From ADMIN_TOKEN when set; otherwise generated on first start,
 * printed once, and kept only as a hash, which every running process reads again every
 * ADMIN_TOKEN_REFRESH_MS, so `npm run admin-token:rotate` against a shared database takes effect in
 * running replicas without a restart.
 */
@Injectable()
export class AdminTokenService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AdminTokenService.name);
  private expected: Buffer | null = null;
  private refresher?: NodeJS.Timeout;

  constructor(
    private readonly config: PlatformConfig,
    @InjectRepository(PlatformSetting) private readonly settings: Repository<PlatformSetting>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.adminToken) {
      this.expected = sha256(this.config.adminToken);
      this.logger.log('admin token: from ADMIN_TOKEN');
      return;
    }
    const stored = await this.readStored();
    if (stored) {
      this.expected = stored;
      this.logger.log('admin token: stored hash (rotate with `npm run admin-token:rotate`)');
    } else {
      const token = await issueAdminToken(this.settings);
      this.expected = sha256(token);
      printAdminToken(
        token,
        'No ADMIN_TOKEN was set, so one was generated. It is shown only this once:',
      );
    }
    this.refresher = setInterval(() => void this.refresh(), ADMIN_TOKEN_REFRESH_MS);
    this.refresher.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.refresher);
  }

  verify(token: string): boolean {
    return !!this.expected && timingSafeEqual(sha256(token), this.expected);
  }

  /** Reads the stored hash again; a database outage keeps the one already known. */
  async refresh(): Promise<void> {
    try {
      const stored = await this.readStored();
      if (stored && !(this.expected && stored.equals(this.expected))) {
        this.expected = stored;
        this.logger.log('admin token: the stored hash changed (rotated); using the new one');
      }
    } catch (err) {
      this.logger.warn(`admin token: could not re-read the stored hash: ${(err as Error).message}`);
    }
  }

  private async readStored(): Promise<Buffer | null> {
    const stored = await this.settings.findOneBy({ key: SETTING });
    return stored && typeof stored.value === 'string' ? Buffer.from(stored.value, 'hex') : null;
  }
}

/** Replaces the stored admin token with a new one and returns it, for showing to a person. */
export async function issueAdminToken(settings: Repository<PlatformSetting>): Promise<string> {
  const token = `mcpadm_${randomBytes(32).toString('base64url')}`;
  await settings.upsert({ key: SETTING, value: sha256(token).toString('hex') }, ['key']);
  return token;
}

export function printAdminToken(token: string, headline: string): void {
  // Deliberately not through the logger: this is the one time the token is shown, to a person.
  process.stdout.write(
    [
      '',
      '================================================================================',
      ` ${headline}`,
      '',
      `   ${token}`,
      '',
      ' Use it as `Authorization: Bearer <token>` on /admin routes. Only its hash is',
      ' stored. Lost it? Stop the server and run `npm run admin-token:rotate`.',
      '================================================================================',
      '',
    ].join('\n'),
  );
}
