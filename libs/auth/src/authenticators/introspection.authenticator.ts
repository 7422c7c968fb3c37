import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { z } from 'zod';
import { PlatformConfig } from '@app/config';
import {
  EgressPolicy,
  EgressRefused,
  EgressTimeout,
  ResponseTooLarge,
  readBodyCapped,
} from '@app/egress';
import {
  looksLikeApiKey,
  PlatformSecrets,
  SealedSecretError,
  type Tenant,
  type TenantIntrospectionSettings,
} from '@app/tenancy';
import { resourceUrl } from '../challenge';
import type { Principal } from '../principal';
import { AuthUnavailable, CredentialRefused } from '../refusal';
import { loadOauth, type Oauth } from '../esm';
import { type AuthAttempt, type Authenticator, looksLikeJwt } from './authenticator';
import { causeCode, CredentialChecks, printableUrl } from './credential-checks';
import { scopesFrom } from './scopes';

/** The PlatformSecrets purpose of `clientSecretSealed`. */
export const TENANT_AUTH_SECRETS = 'tenant-auth';
/** How long an active answer is trusted (or until the token's `exp`, if sooner). */
export const INTROSPECTION_CACHE_MS = 30_000;
/** How long an inactive answer is remembered, so a refused token cannot flood the endpoint. */
export const INTROSPECTION_NEGATIVE_CACHE_MS = 5_000;
export const INTROSPECTION_TIMEOUT_MS = 3000;
const CLOCK_TOLERANCE_MS = 30_000;
const MAX_BODY_BYTES = 64 * 1024;
const RETRY_AFTER_S = 5;
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

const activeSchema = z.looseObject({
  active: z.literal(true),
  exp: z.number().nullish(),
  sub: z.string().nullish(),
  client_id: z.string().nullish(),
  iss: z.string().nullish(),
  aud: z.union([z.string(), z.array(z.string())]).nullish(),
  scope: z.string().nullish(),
});

type Answer = z.infer<typeof activeSchema> | { active: false };

export type ProbeFailure = 'unreachable' | 'credentials' | 'answer';

/** What `probe` found wrong with an introspection endpoint; the message is meant for its admin. */
export class ProbeFailed extends Error {
  override readonly name = 'ProbeFailed';

  constructor(
    readonly failure: ProbeFailure,
    message: string,
  ) {
    super(message);
  }
}

/** An exchange that gave no usable answer: `reason` is safe to show the caller, `detail` the admin. */
class Failure extends Error {
  constructor(
    readonly kind: ProbeFailure,
    readonly reason: string,
    readonly detail = reason,
  ) {
    super(reason);
  }
}

/**
 * Opaque bearer tokens, checked at the tenant's RFC 7662 introspection endpoint (oauth4webapi, over
 * the egress policy) with the platform's client credentials (client_secret_basic). Answers are
 * cached under an HMAC of the token (never the token): active ones for 30 s at most, inactive ones
 * for 5 s; identical checks in flight share one request. An endpoint that is down, slow, refuses
 * the platform's credentials or answers nonsense is a 503, never an accept.
 */
@Injectable()
export class IntrospectionAuthenticator implements Authenticator {
  readonly kind = 'introspection';
  private readonly logger = new Logger('Introspection');
  private readonly answers = new CredentialChecks<Answer>(
    'identity provider’s introspection endpoint',
  );

  constructor(
    private readonly egress: EgressPolicy,
    private readonly secrets: PlatformSecrets,
    private readonly config: PlatformConfig,
  ) {}

  /** Opaque bearers; JWT-shaped ones too when the tenant has no JWT issuer configured. */
  async accepts({ bearer, tenant }: AuthAttempt): Promise<boolean> {
    if (!bearer || looksLikeApiKey(bearer)) return false;
    const auth = (await tenant())?.settings.auth;
    return !!auth?.introspection && (!looksLikeJwt(bearer) || !auth.jwt);
  }

  async authenticate({ bearer, tenant: tenantOf }: AuthAttempt): Promise<Principal> {
    const tenant = await tenantOf();
    const settings = tenant?.settings.auth?.introspection;
    if (!tenant || !settings || !bearer) {
      throw new CredentialRefused(
        'no_identity_provider',
        'opaque bearer tokens are accepted only on the routes of a tenant with token introspection configured',
      );
    }
    const answer = await this.answerFor(tenant, settings, bearer);
    return this.principalOf(answer, tenant, settings);
  }

  /**
   * Introspects a random token at a would-be endpoint: resolves when it answers a valid RFC 7662
   * body (active or not) to these credentials.
   */
  async probe(endpoint: string, clientId: string, clientSecret: string): Promise<void> {
    try {
      await this.introspect(
        endpoint,
        clientId,
        clientSecret,
        randomBytes(32).toString('base64url'),
      );
    } catch (err) {
      if (!(err instanceof Failure)) throw err;
      const lead = {
        unreachable: 'the introspection endpoint could not be reached',
        credentials: 'the introspection endpoint refused the client credentials',
        answer: 'the introspection endpoint did not answer as RFC 7662 says',
      }[err.kind];
      throw new ProbeFailed(err.kind, `${lead}: ${err.detail}`);
    }
  }

  private async answerFor(
    tenant: Tenant,
    settings: TenantIntrospectionSettings,
    token: string,
  ): Promise<Answer> {
    // The endpoint is in the key too, so pointing the tenant at another provider drops old answers.
    const key = this.answers.key(tenant.id, settings.endpoint, token);
    return this.answers.answer(tenant.id, key, () => this.ask(tenant, settings, token));
  }

  private async ask(
    tenant: Tenant,
    settings: TenantIntrospectionSettings,
    token: string,
  ): Promise<{ value: Answer; until: number }> {
    let secret: string;
    try {
      secret = this.secrets.open(TENANT_AUTH_SECRETS, settings.clientSecretSealed);
    } catch (err) {
      if (!(err instanceof SealedSecretError)) throw err;
      this.logger.error(
        `tenant ${tenant.slug}: the introspection client secret cannot be opened (${err.message}); set the tenant’s introspection settings again`,
      );
      throw unavailable('the platform cannot use its client secret');
    }
    let answer: Answer;
    try {
      answer = await this.introspect(settings.endpoint, settings.clientId, secret, token);
    } catch (err) {
      if (!(err instanceof Failure)) throw err;
      const where = `tenant ${tenant.slug}: the introspection endpoint ${printableUrl(settings.endpoint)}`;
      this.logger.warn(
        err.kind === 'credentials'
          ? `${where} refused the platform’s client credentials (client_id ${JSON.stringify(settings.clientId)}, ${err.detail}); set the tenant’s introspection clientId and clientSecret again`
          : `${where} is unavailable: ${err.detail}`,
      );
      throw unavailable(err.reason);
    }
    const now = Date.now();
    const until = answer.active
      ? Math.min(
          now + INTROSPECTION_CACHE_MS,
          typeof answer.exp === 'number' ? answer.exp * 1000 : Infinity,
        )
      : now + INTROSPECTION_NEGATIVE_CACHE_MS;
    return { value: answer, until };
  }

  private async introspect(
    endpoint: string,
    clientId: string,
    secret: string,
    token: string,
  ): Promise<Answer> {
    const oauth = await loadOauth();
    if (!URL.canParse(endpoint)) throw new Failure('unreachable', 'its URL is not valid');
    const url = new URL(endpoint);
    const as: Oauth.AuthorizationServer = {
      // oauth4webapi wants an issuer; only the endpoint is configured, and it is all that is used.
      issuer: url.origin,
      introspection_endpoint: endpoint,
    };
    const client: Oauth.Client = { client_id: clientId };
    let res: Response;
    try {
      res = await oauth.introspectionRequest(as, client, oauth.ClientSecretBasic(secret), token, {
        [oauth.customFetch]: this.fetchCapped,
        additionalParameters: { token_type_hint: 'access_token' },
        // The admin schema allows http: only for loopback endpoints.
        ...(url.protocol === 'http:' && { [oauth.allowInsecureRequests]: true }),
      });
    } catch (err) {
      throw unreached(err);
    }
    if (res.status === 401 || res.status === 403) {
      throw new Failure(
        'credentials',
        'it refused the platform’s client credentials',
        `HTTP ${res.status}`,
      );
    }
    // Some providers (oidc-provider among them) answer 400 invalid_request for a token they will
    // not introspect, e.g. a JWT access token, where RFC 7662 would say inactive: it is refused.
    if (res.status === 400 && (await oauthErrorOf(res)) !== undefined) return { active: false };
    if (res.status !== 200) {
      throw new Failure(
        'answer',
        `it answered HTTP ${res.status}`,
        res.status >= 300 && res.status < 400
          ? `it answered a redirect (HTTP ${res.status}), which is not followed`
          : `it answered HTTP ${res.status}`,
      );
    }
    let body: Oauth.IntrospectionResponse;
    try {
      body = await oauth.processIntrospectionResponse(as, client, res);
    } catch {
      throw new Failure(
        'answer',
        'its answer is not an introspection response',
        'its answer is not a JSON object with a boolean "active"',
      );
    }
    if (body.active !== true) return { active: false };
    const parsed = activeSchema.safeParse(body);
    if (!parsed.success) {
      const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.')))].join(', ');
      throw new Failure(
        'answer',
        'its answer is malformed',
        `its answer has malformed fields: ${fields}`,
      );
    }
    return parsed.data;
  }

  /** Egress-checked, with the body read under a cap before oauth4webapi parses it. */
  private readonly fetchCapped = async (
    url: string,
    init: Oauth.CustomFetchOptions<'POST', URLSearchParams>,
  ): Promise<Response> => {
    const res = await this.egress.fetch(url, {
      method: init.method,
      headers: init.headers,
      body: init.body,
      signal: init.signal,
      redirect: 'manual',
      timeoutMs: INTROSPECTION_TIMEOUT_MS,
    });
    const body = await readBodyCapped(res, MAX_BODY_BYTES);
    return new Response(NULL_BODY_STATUSES.has(res.status) ? null : new Uint8Array(body), {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };

  private principalOf(
    answer: Answer,
    tenant: Tenant,
    settings: TenantIntrospectionSettings,
  ): Principal {
    if (!answer.active) {
      throw new CredentialRefused(
        'token_inactive',
        'the access token is not active (revoked, expired or unknown to the identity provider)',
      );
    }
    const exp = typeof answer.exp === 'number' ? answer.exp * 1000 : undefined;
    if (exp !== undefined && exp <= Date.now() - CLOCK_TOLERANCE_MS) {
      throw new CredentialRefused('token_inactive', 'the access token has expired');
    }
    const expected = [resourceUrl(this.config.publicUrl, tenant.slug), settings.audience].filter(
      (a): a is string => !!a,
    );
    const audiences = typeof answer.aud === 'string' ? [answer.aud] : (answer.aud ?? []);
    if (!audiences.some((a) => expected.includes(a))) {
      throw new CredentialRefused('invalid', `audience must be ${expected.join(' or ')}`);
    }
    const subject = answer.sub || answer.client_id;
    if (!subject) {
      throw new CredentialRefused(
        'invalid',
        'the identity provider names no subject for the token (sub or client_id)',
      );
    }
    return {
      kind: 'introspection',
      id: `${answer.iss || settings.endpoint}#${subject}`,
      tenantId: tenant.id,
      scopes: scopesFrom(answer, settings.scopesClaim),
      tools: null,
      resources: null,
      prompts: null,
      ...(exp !== undefined && { expiresAt: exp }),
    };
  }
}

function unavailable(reason: string): AuthUnavailable {
  return new AuthUnavailable(
    `the identity provider’s introspection endpoint is unavailable (${reason}); try again shortly`,
    RETRY_AFTER_S,
  );
}

function unreached(err: unknown): Failure {
  if (err instanceof EgressTimeout) {
    const reason = `no answer within ${INTROSPECTION_TIMEOUT_MS} ms`;
    return new Failure('unreachable', reason);
  }
  // Its message names the URL without query, and why the policy refuses it: for the admin only.
  if (err instanceof EgressRefused) {
    return new Failure(
      'unreachable',
      'its address is not allowed by the egress policy',
      err.message,
    );
  }
  if (err instanceof ResponseTooLarge) {
    return new Failure('answer', `its answer exceeds ${MAX_BODY_BYTES} bytes`);
  }
  const code = causeCode(err);
  return new Failure(
    'unreachable',
    'it could not be reached',
    `it could not be reached${code ? ` (${code})` : ''}`,
  );
}

/** The `error` code of an OAuth error answer (RFC 6749 5.2), if the body is one. */
async function oauthErrorOf(res: Response): Promise<string | undefined> {
  try {
    const body = (await res.json()) as { error?: unknown } | null;
    return typeof body?.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}
