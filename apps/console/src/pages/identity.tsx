import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { TenantPageProps } from '../app';
import { api, enc, unshown } from '../api';
import { splitList } from '../forms';
import { ErrorBox, Field, Loading, useAction, useLoad } from '../components';
import type { TenantAuth } from '../types';
import './identity.css';

type Part = 'jwt' | 'introspection' | 'external';

const ALGORITHMS = 'RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512';

/** Only the filled-in optional fields: an empty one means "not set". */
function filled(values: Record<string, string | string[] | number | undefined>) {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = typeof v === 'string' ? v.trim() : v;
  }
  return out;
}

/** A number input's value: empty is "not set"; anything else goes to the API to judge. */
const num = (s: string) => (s.trim() === '' ? undefined : Number(s));

/**
 * One identity system: its own form, saving (PUT) or removing (null) only its own part, so the
 * other two are kept as stored.
 */
function AuthPanel(props: {
  slug: string;
  part: Part;
  title: string;
  /** e.g. "JWT settings": the buttons say "Save JWT settings" / "Remove JWT settings". */
  what: string;
  configured: boolean;
  intro: ComponentChildren;
  fieldNames: string[];
  build: () => unknown;
  onSaved: (auth: TenantAuth) => void;
  children: (fields: Record<string, string>) => ComponentChildren;
}) {
  const action = useAction();
  const [done, setDone] = useState<string>();
  const [confirming, setConfirming] = useState(false);
  useEffect(() => {
    if (!done) return;
    const t = setTimeout(() => setDone(undefined), 8000);
    return () => clearTimeout(t);
  }, [done]);
  const put = (value: unknown, message: string) =>
    void action.run(async () => {
      setDone(undefined);
      const auth = await api<TenantAuth>('PUT', `/admin/tenants/${enc(props.slug)}/auth`, {
        [props.part]: value,
      });
      setConfirming(false);
      props.onSaved(auth);
      setDone(message);
    });
  const headingId = `auth-${props.part}`;
  return (
    <section class="panel auth-panel" aria-labelledby={headingId} data-auth={props.part}>
      <h3 id={headingId}>
        {props.title}{' '}
        <span class={`status ${props.configured ? '' : 'unset'}`}>
          {props.configured ? 'set' : 'not set'}
        </span>
      </h3>
      <div class="muted auth-intro">{props.intro}</div>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          put(props.build(), `${props.what} saved.`);
        }}
      >
        {props.children(action.fields)}
        {unshown(action.error, props.fieldNames) ? <ErrorBox error={action.error} /> : null}
        {done ? (
          <p class="success" role="status">
            {done}
          </p>
        ) : null}
        <div class="actions">
          <button type="submit" class="primary" disabled={action.busy}>
            Save {props.what}
          </button>
          {props.configured && !confirming ? (
            <button
              type="button"
              class="danger"
              disabled={action.busy}
              onClick={() => {
                action.clear();
                setConfirming(true);
              }}
            >
              Remove {props.what}
            </button>
          ) : null}
        </div>
        {confirming ? (
          <div class="confirm" role="dialog" aria-label={`Remove ${props.what}`}>
            <p>
              Credentials of this kind stop working on <code>{props.slug}</code> at once. The other
              identity systems are kept.
            </p>
            <div class="actions">
              <button
                type="button"
                class="danger"
                disabled={action.busy}
                onClick={() => put(null, `${props.what} removed.`)}
              >
                Yes, remove them
              </button>
              <button type="button" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </div>
          </div>
        ) : null}
      </form>
    </section>
  );
}

type Setter = (v: string) => void;
const bind = (value: string, set: Setter) => ({
  value,
  onInput: (e: { currentTarget: HTMLInputElement }) => set(e.currentTarget.value),
});

function JwtPanel(props: {
  slug: string;
  auth: TenantAuth;
  resource: string;
  onSaved: (a: TenantAuth) => void;
}) {
  const jwt = props.auth.jwt ?? undefined;
  const [issuer, setIssuer] = useState(jwt?.issuer ?? '');
  const [jwksUri, setJwksUri] = useState(jwt?.jwksUri ?? '');
  const [audience, setAudience] = useState(jwt?.audience ?? '');
  const [scopesClaim, setScopesClaim] = useState(jwt?.scopesClaim ?? '');
  const [algorithms, setAlgorithms] = useState((jwt?.algorithms ?? []).join(', '));
  useEffect(() => {
    setIssuer(jwt?.issuer ?? '');
    setJwksUri(jwt?.jwksUri ?? '');
    setAudience(jwt?.audience ?? '');
    setScopesClaim(jwt?.scopesClaim ?? '');
    setAlgorithms((jwt?.algorithms ?? []).join(', '));
  }, [JSON.stringify(jwt ?? null)]);
  return (
    <AuthPanel
      slug={props.slug}
      part="jwt"
      title="JWT (OpenID Connect / OAuth issuer)"
      what="JWT settings"
      configured={!!jwt}
      intro={
        <p>
          Bearer JWTs signed by this issuer are accepted when their audience is this tenant. The
          issuer's metadata is read when you save.
        </p>
      }
      fieldNames={[
        'jwt.issuer',
        'jwt.jwksUri',
        'jwt.audience',
        'jwt.scopesClaim',
        'jwt.algorithms',
      ]}
      build={() => ({
        issuer: issuer.trim(),
        ...filled({ jwksUri, audience, scopesClaim, algorithms: splitList(algorithms) }),
      })}
      onSaved={props.onSaved}
    >
      {(fields) => (
        <>
          <Field
            label="Issuer"
            name="jwt.issuer"
            fields={fields}
            hint="e.g. https://login.example.com/realms/mcp (http only for localhost)"
          >
            <input name="issuer" type="url" required {...bind(issuer, setIssuer)} />
          </Field>
          <Field
            label="JWKS URI"
            name="jwt.jwksUri"
            fields={fields}
            hint="Optional: when empty, discovered from the issuer's metadata."
          >
            <input name="jwksUri" type="url" {...bind(jwksUri, setJwksUri)} />
          </Field>
          <Field
            label="Audience"
            name="jwt.audience"
            fields={fields}
            hint={`Optional: when empty, tokens must name this tenant's resource URL, ${props.resource}`}
          >
            <input name="audience" {...bind(audience, setAudience)} />
          </Field>
          <Field
            label="Scopes claim"
            name="jwt.scopesClaim"
            fields={fields}
            hint="Optional: default scope, then scp; a dotted path such as realm_access.roles reads a nested claim."
          >
            <input name="scopesClaim" {...bind(scopesClaim, setScopesClaim)} />
          </Field>
          <Field
            label="Algorithms"
            name="jwt.algorithms"
            fields={fields}
            hint={`Optional, comma-separated; any of ${ALGORITHMS}.`}
          >
            <input name="algorithms" {...bind(algorithms, setAlgorithms)} />
          </Field>
        </>
      )}
    </AuthPanel>
  );
}

function IntrospectionPanel(props: {
  slug: string;
  auth: TenantAuth;
  resource: string;
  onSaved: (a: TenantAuth) => void;
}) {
  const current = props.auth.introspection;
  const [endpoint, setEndpoint] = useState(current?.endpoint ?? '');
  const [clientId, setClientId] = useState(current?.clientId ?? '');
  // Write-only: never filled from the API, emptied after every save.
  const [clientSecret, setClientSecret] = useState('');
  const [audience, setAudience] = useState(current?.audience ?? '');
  const [scopesClaim, setScopesClaim] = useState(current?.scopesClaim ?? '');
  useEffect(() => {
    setEndpoint(current?.endpoint ?? '');
    setClientId(current?.clientId ?? '');
    setClientSecret('');
    setAudience(current?.audience ?? '');
    setScopesClaim(current?.scopesClaim ?? '');
  }, [JSON.stringify(current ?? null)]);
  return (
    <AuthPanel
      slug={props.slug}
      part="introspection"
      title="Token introspection (opaque tokens)"
      what="introspection settings"
      configured={!!current}
      intro={
        <p>
          Bearers that are neither API keys nor JWTs (all bearers, when no JWT issuer is set) are
          checked at this RFC 7662 endpoint. The client is tried when you save.
        </p>
      }
      fieldNames={[
        'introspection.endpoint',
        'introspection.clientId',
        'introspection.clientSecret',
        'introspection.audience',
        'introspection.scopesClaim',
      ]}
      build={() => ({
        endpoint: endpoint.trim(),
        clientId: clientId.trim(),
        ...(clientSecret ? { clientSecret } : {}),
        ...filled({ audience, scopesClaim }),
      })}
      onSaved={(a) => {
        setClientSecret('');
        props.onSaved(a);
      }}
    >
      {(fields) => (
        <>
          <Field label="Introspection endpoint" name="introspection.endpoint" fields={fields}>
            <input name="endpoint" type="url" required {...bind(endpoint, setEndpoint)} />
          </Field>
          <Field label="Client ID" name="introspection.clientId" fields={fields}>
            <input name="clientId" required autocomplete="off" {...bind(clientId, setClientId)} />
          </Field>
          <Field
            label="Client secret"
            name="introspection.clientSecret"
            fields={fields}
            hint={
              current?.clientSecretSet
                ? 'A secret is stored; leave empty to keep it.'
                : 'Required the first time. Write-only: stored sealed and never shown again.'
            }
          >
            <input
              name="clientSecret"
              type="password"
              autocomplete="new-password"
              required={!current?.clientSecretSet}
              {...bind(clientSecret, setClientSecret)}
            />
          </Field>
          <Field
            label="Audience"
            name="introspection.audience"
            fields={fields}
            hint={`Optional: when empty, the answer's aud must name ${props.resource}`}
          >
            <input name="audience" {...bind(audience, setAudience)} />
          </Field>
          <Field
            label="Scopes claim"
            name="introspection.scopesClaim"
            fields={fields}
            hint="Optional: default scope."
          >
            <input name="scopesClaim" {...bind(scopesClaim, setScopesClaim)} />
          </Field>
        </>
      )}
    </AuthPanel>
  );
}

function ExternalPanel(props: {
  slug: string;
  auth: TenantAuth;
  onSaved: (a: TenantAuth) => void;
}) {
  const current = props.auth.external;
  const [url, setUrl] = useState(current?.url ?? '');
  const [headers, setHeaders] = useState((current?.headers ?? []).join(', '));
  const [timeoutMs, setTimeoutMs] = useState(String(current?.timeoutMs ?? ''));
  const [cacheSeconds, setCacheSeconds] = useState(String(current?.cacheSeconds ?? ''));
  useEffect(() => {
    setUrl(current?.url ?? '');
    setHeaders((current?.headers ?? []).join(', '));
    setTimeoutMs(current?.timeoutMs === undefined ? '' : String(current.timeoutMs));
    setCacheSeconds(current?.cacheSeconds === undefined ? '' : String(current.cacheSeconds));
  }, [JSON.stringify(current ?? null)]);
  return (
    <AuthPanel
      slug={props.slug}
      part="external"
      title="Your own auth service"
      what="auth service settings"
      configured={!!current}
      intro={
        <p>
          A request carrying any of these headers has their values posted to your service, which
          answers with the subject and its scopes (or 401/403). Values are never stored or logged.
        </p>
      }
      fieldNames={[
        'external.url',
        'external.headers',
        'external.timeoutMs',
        'external.cacheSeconds',
      ]}
      build={() => ({
        url: url.trim(),
        headers: splitList(headers),
        ...filled({ timeoutMs: num(timeoutMs), cacheSeconds: num(cacheSeconds) }),
      })}
      onSaved={props.onSaved}
    >
      {(fields) => (
        <>
          <Field label="Auth service URL" name="external.url" fields={fields}>
            <input name="url" type="url" required {...bind(url, setUrl)} />
          </Field>
          <Field
            label="Headers"
            name="external.headers"
            fields={fields}
            hint="Comma-separated header names, e.g. X-User, X-Pass (at most 8)."
          >
            <input name="headers" required {...bind(headers, setHeaders)} />
          </Field>
          <div class="auth-row">
            <Field
              label="Timeout (ms)"
              name="external.timeoutMs"
              fields={fields}
              hint="Optional: default 3000, at most 10000."
            >
              <input
                name="timeoutMs"
                type="number"
                min={100}
                max={10000}
                step={1}
                {...bind(timeoutMs, setTimeoutMs)}
              />
            </Field>
            <Field
              label="Cache (seconds)"
              name="external.cacheSeconds"
              fields={fields}
              hint="Optional: default 60; 0 asks every time."
            >
              <input
                name="cacheSeconds"
                type="number"
                min={0}
                max={3600}
                step={1}
                {...bind(cacheSeconds, setCacheSeconds)}
              />
            </Field>
          </div>
        </>
      )}
    </AuthPanel>
  );
}

interface ResourceMetadata {
  resource: string;
  authorization_servers?: string[];
  scopes_supported?: string[];
}

/** RFC 9728: the well-known segment goes between the host and the resource's path. */
function discoveryUrl(resource: string): string {
  const u = new URL(resource);
  return `${u.origin}/.well-known/oauth-protected-resource${u.pathname}`;
}

export function IdentityPage(props: TenantPageProps) {
  const slug = props.tenant.slug;
  const path = `/admin/tenants/${enc(slug)}/auth`;
  const { data, error, loading } = useLoad(() => api<TenantAuth>('GET', path), [path]);
  const [saved, setSaved] = useState<TenantAuth>();
  useEffect(() => setSaved(undefined), [slug]);
  // What clients discover, as the platform serves it (its resource URL is PUBLIC_URL's).
  const metadataPath = `/.well-known/oauth-protected-resource/t/${enc(slug)}/mcp`;
  const metadata = useLoad(() => api<ResourceMetadata>('GET', metadataPath), [metadataPath]);
  const auth = saved ?? data;
  const resource = metadata.data?.resource ?? `${location.origin}/t/${enc(slug)}/mcp`;
  const discovery = metadata.data ? discoveryUrl(metadata.data.resource) : metadataPath;
  const onSaved = (a: TenantAuth) => {
    setSaved(a);
    metadata.reload();
  };
  const servers = metadata.data?.authorization_servers ?? [];
  return (
    <div class="identity">
      <section class="panel" aria-labelledby="identity-heading">
        <h3 id="identity-heading">Identity providers</h3>
        <p>
          Besides API keys, the endpoint <code>{resource}</code> accepts the credentials of the
          systems set here. Each is checked before it is saved: an issuer or endpoint that cannot be
          reached is refused.
        </p>
        <p>
          What MCP clients discover (RFC 9728 protected-resource metadata):{' '}
          <a
            href={discovery}
            target="_blank"
            rel="noopener noreferrer"
            data-testid="resource-metadata"
          >
            {metadata.data ? discovery : `${location.origin}${metadataPath}`}
          </a>
          {metadata.data ? (
            <>
              {' '}
              — authorization server:{' '}
              {servers.length ? (
                <code data-testid="authorization-servers">{servers.join(', ')}</code>
              ) : (
                <span class="muted">none (no JWT issuer set)</span>
              )}
            </>
          ) : null}
        </p>
      </section>
      <ErrorBox error={error} />
      <Loading when={loading && !auth} />
      {auth ? (
        <>
          <JwtPanel slug={slug} auth={auth} resource={resource} onSaved={onSaved} />
          <IntrospectionPanel slug={slug} auth={auth} resource={resource} onSaved={onSaved} />
          <ExternalPanel slug={slug} auth={auth} onSaved={onSaved} />
        </>
      ) : null}
    </div>
  );
}
