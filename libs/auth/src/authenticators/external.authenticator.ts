import { Injectable, Logger } from '@nestjs/common';
import { z } from 'zod';
import {
  EgressPolicy,
  EgressRefused,
  EgressTimeout,
  ResponseTooLarge,
  readBodyCapped,
} from '@app/egress';
import type { Tenant, TenantExternalAuthSettings } from '@app/tenancy';
import type { Principal } from '../principal';
import { AuthUnavailable, CredentialRefused } from '../refusal';
import type { AuthAttempt, Authenticator } from './authenticator';
import { causeCode, CredentialChecks, printableUrl } from './credential-checks';

/**
 * Header names a tenant may not have its auth service read: the platform's own credentials,
 * transport and protocol headers, and proxy-set ones a client could forge.
 */
export const EXTERNAL_RESERVED_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'x-api-key',
  'cookie',
  'host',
  'content-type',
  'content-length',
  'connection',
  'transfer-encoding',
  'origin',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'accept',
  'user-agent',
  'x-request-id',
  'x-forwarded-for',
  'forwarded',
]);

export const EXTERNAL_MAX_HEADER_LENGTH = 4096;
const DEFAULT_TIMEOUT_MS = 3000;
const DEFAULT_CACHE_SECONDS = 60;
const MAX_BODY_BYTES = 64 * 1024;
const RETRY_AFTER_S = 5;

const answerSchema = z.object({
  subject: z.string().min(1).max(256),
  scopes: z.array(z.string().max(200)).max(100),
  // Zero or less is accepted: the answer then holds for this request only.
  expiresIn: z.number().optional(),
});

/** A failure to get an answer; its message goes to the client, so it holds no secret. */
class Unanswered extends Error {}

/**
 * Credentials in custom headers, checked by the tenant's own auth service: the configured headers'
 * values are posted to it and its 200 answer names the subject and scopes. Successful answers are
 * cached under an HMAC of the values (never the values), and identical checks in flight share one
 * call; a service that is down, slow or answering nonsense is a 503, never an accept.
 */
@Injectable()
export class ExternalAuthenticator implements Authenticator {
  readonly kind = 'external';
  private readonly logger = new Logger('ExternalAuth');
  private readonly answers = new CredentialChecks<Principal>('tenant’s auth service');

  constructor(private readonly egress: EgressPolicy) {}

  async accepts({ req, tenant }: AuthAttempt): Promise<boolean> {
    const settings = (await tenant())?.settings.auth?.external;
    return !!settings && settings.headers.some((name) => req.headers[name] !== undefined);
  }

  async authenticate({ req, tenant: tenantOf }: AuthAttempt): Promise<Principal> {
    const tenant = await tenantOf();
    const settings = tenant?.settings.auth?.external;
    if (!tenant || !settings) {
      throw new CredentialRefused(
        'no_identity_provider',
        'header credentials are accepted only on the routes of a tenant with an auth service configured',
      );
    }
    const values = headerValues(req.headers, settings.headers);
    // The URL is in the key too, so pointing the tenant at another service drops the old answers.
    const key = this.answers.key(tenant.id, settings.url, ...[...values].flat());
    const principal = await this.answers.answer(tenant.id, key, () =>
      this.ask(tenant, settings, values),
    );
    return { ...principal };
  }

  private async ask(
    tenant: Tenant,
    settings: TenantExternalAuthSettings,
    values: Map<string, string>,
  ): Promise<{ value: Principal; until: number }> {
    const timeoutMs = settings.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let answer: z.infer<typeof answerSchema>;
    try {
      answer = await this.post(settings.url, values, timeoutMs);
    } catch (err) {
      if (err instanceof CredentialRefused) throw err;
      const reason = err instanceof Unanswered ? err.message : reasonOf(err, timeoutMs);
      const code = causeCode(err);
      this.logger.warn(
        `tenant ${tenant.slug}: the auth service at ${printableUrl(settings.url)} is unavailable: ${reason}${code ? ` (${code})` : ''}`,
      );
      throw new AuthUnavailable(
        `the tenant’s auth service is unavailable (${reason}); try again shortly`,
        RETRY_AFTER_S,
      );
    }
    const now = Date.now();
    const expiresAt =
      answer.expiresIn !== undefined && answer.expiresIn > 0
        ? now + answer.expiresIn * 1000
        : undefined;
    const principal: Principal = {
      kind: 'external',
      id: `external:${answer.subject}`,
      tenantId: tenant.id,
      scopes: answer.scopes,
      tools: null,
      resources: null,
      prompts: null,
      ...(expiresAt !== undefined && { expiresAt }),
    };
    const cacheSeconds = settings.cacheSeconds ?? DEFAULT_CACHE_SECONDS;
    // An expiresIn of 0 or less holds for this request only.
    const cacheable = answer.expiresIn === undefined || answer.expiresIn > 0;
    const until = cacheable ? Math.min(now + cacheSeconds * 1000, expiresAt ?? Infinity) : now;
    return { value: principal, until };
  }

  private async post(
    url: string,
    values: Map<string, string>,
    timeoutMs: number,
  ): Promise<z.infer<typeof answerSchema>> {
    const res = await this.egress.fetch(url, {
      method: 'POST',
      timeoutMs,
      redirect: 'manual',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ headers: Object.fromEntries(values) }),
    });
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => undefined);
      throw new CredentialRefused(
        'external_rejected',
        'the tenant’s auth service refused these credentials',
      );
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new Unanswered(
        res.status >= 300 && res.status < 400
          ? `it answered a redirect (HTTP ${res.status}), which is not followed`
          : `it answered HTTP ${res.status}`,
      );
    }
    const body = await readBodyCapped(res, MAX_BODY_BYTES);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new Unanswered('its answer is not JSON');
    }
    const parsed = answerSchema.safeParse(json);
    if (!parsed.success) {
      throw new Unanswered('its answer is not {subject, scopes, expiresIn?}');
    }
    return parsed.data;
  }
}

function headerValues(
  headers: Record<string, string | string[] | undefined>,
  names: readonly string[],
): Map<string, string> {
  const values = new Map<string, string>();
  for (const name of names) {
    const raw = headers[name];
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    if (!value) {
      const list = names.join(', ');
      throw new CredentialRefused(
        'malformed',
        names.length === 1
          ? `this tenant’s auth service needs the header ${list}`
          : `this tenant’s auth service needs the headers ${list} (all of them)`,
      );
    }
    if (value.length > EXTERNAL_MAX_HEADER_LENGTH) {
      throw new CredentialRefused(
        'malformed',
        `the header ${name} is longer than ${EXTERNAL_MAX_HEADER_LENGTH} characters`,
      );
    }
    values.set(name, value);
  }
  return values;
}

/** A short reason for a failed exchange: no URL query, no header values. */
function reasonOf(err: unknown, timeoutMs: number): string {
  if (err instanceof EgressTimeout) return `no answer within ${timeoutMs} ms`;
  if (err instanceof EgressRefused) return 'its address is not allowed by the egress policy';
  if (err instanceof ResponseTooLarge) return `its answer exceeds ${MAX_BODY_BYTES} bytes`;
  return 'it could not be reached';
}
