import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PlatformConfig } from '@app/config';
import { PlatformSetting } from '@app/tenancy';

const SETTING = 'admin_token_sha256';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * The platform admin bearer token. From ADMIN_TOKEN when set; otherwise generated on first start,
 * printed once, and kept only as a hash.
 */
@Injectable()
export class AdminTokenService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AdminTokenService.name);
  private expected: Buffer | null = null;

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
    const stored = await this.settings.findOneBy({ key: SETTING });
    if (stored && typeof stored.value === 'string') {
      this.expected = Buffer.from(stored.value, 'hex');
      this.logger.log('admin token: stored hash (rotate with `npm run admin-token:rotate`)');
      return;
    }
    const token = await issueAdminToken(this.settings);
    this.expected = sha256(token);
    printAdminToken(
      token,
      'No ADMIN_TOKEN was set, so one was generated. It is shown only this once:',
    );
  }

  verify(token: string): boolean {
    return !!this.expected && timingSafeEqual(sha256(token), this.expected);
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
