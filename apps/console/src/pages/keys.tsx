import { useState } from 'preact/hooks';
import type { TenantPageProps } from '../app';
import { api, enc, query, type Page, unshown } from '../api';
import { splitList, toInstant } from '../forms';
import {
  CopyButton,
  useCursors,
  ErrorBox,
  Field,
  Loading,
  Pager,
  Time,
  TypedConfirm,
  useAction,
  useLoad,
} from '../components';
import type { ApiKey, IssuedApiKey, Prompt, Resource, Tool } from '../types';
import { ConnectSnippets } from './connect';

const PAGE_SIZE = 25;
const ADMIN_SCOPE = 'tenant:admin';
const KEY_FIELDS = ['name', 'scopes', 'tools', 'expiresAt', 'rateLimitPerMinute'];
const GRACE = [
  { label: 'None: the old secret stops now', seconds: 0 },
  { label: '1 hour', seconds: 3600 },
  { label: '1 day', seconds: 86_400 },
  { label: '7 days', seconds: 7 * 86_400 },
  { label: '30 days', seconds: 30 * 86_400 },
];

/** The scopes the catalog asks for, so a key can be given exactly what its tools need. */
function useCatalog(slug: string) {
  return useLoad(async () => {
    const base = `/admin/tenants/${enc(slug)}`;
    const [{ items: tools }, { items: resources }, { items: prompts }] = await Promise.all([
      api<{ items: Tool[] }>('GET', `${base}/tools`),
      api<{ items: Resource[] }>('GET', `${base}/resources`),
      api<{ items: Prompt[] }>('GET', `${base}/prompts`),
    ]);
    const scopes = new Set<string>();
    for (const c of [...tools, ...resources, ...prompts])
      c.requiredScopes.forEach((s) => scopes.add(s));
    scopes.delete(ADMIN_SCOPE);
    return { tools, scopes: [...scopes].sort() };
  }, [slug]);
}

function status(k: ApiKey): 'revoked' | 'expired' | 'active' {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && new Date(k.expiresAt) <= new Date()) return 'expired';
  return 'active';
}

function CreateKey(props: { slug: string; onCreated: (k: IssuedApiKey) => void }) {
  const catalog = useCatalog(props.slug);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Set<string>>(new Set());
  const [other, setOther] = useState('');
  const [allTools, setAllTools] = useState(true);
  const [tools, setTools] = useState<Set<string>>(new Set());
  const [expires, setExpires] = useState('');
  const [perMinute, setPerMinute] = useState('');
  const action = useAction();
  const toggle = (set: Set<string>, value: string, on: boolean) => {
    const next = new Set(set);
    if (on) next.add(value);
    else next.delete(value);
    return next;
  };
  const reset = () => {
    setName('');
    setScopes(new Set());
    setOther('');
    setAllTools(true);
    setTools(new Set());
    setExpires('');
    setPerMinute('');
  };
  const known = [...(catalog.data?.scopes ?? []), ADMIN_SCOPE];
  return (
    <section aria-labelledby="create-key">
      <h3 id="create-key">New key</h3>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void action
            .run(() =>
              api<IssuedApiKey>('POST', `/admin/tenants/${enc(props.slug)}/keys`, {
                name: name.trim(),
                scopes: [...new Set([...scopes, ...splitList(other)])],
                tools: allTools ? null : [...tools],
                ...(expires ? { expiresAt: toInstant(expires) } : {}),
                ...(perMinute ? { rateLimitPerMinute: Number(perMinute) } : {}),
              }),
            )
            .then((k) => {
              if (!k) return;
              reset();
              props.onCreated(k);
            });
        }}
      >
        <Field
          label="Key name"
          name="name"
          fields={action.fields}
          hint="Who or what uses it, e.g. laptop or ci."
        >
          <input
            name="name"
            required
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <fieldset>
          <legend>Scopes</legend>
          <ErrorBox error={catalog.error} title="The catalog could not be read" />
          {known.map((s) => (
            <label key={s}>
              <input
                type="checkbox"
                checked={scopes.has(s)}
                onChange={(e) => setScopes(toggle(scopes, s, e.currentTarget.checked))}
              />
              {s}
            </label>
          ))}
          <p class="hint">
            The scopes the tenant's tools, resources and prompts ask for. <code>{ADMIN_SCOPE}</code>{' '}
            lets the key manage this tenant (keys, tools, identity providers, audit).
          </p>
          <Field
            label="Other scopes"
            name="scopes"
            fields={action.fields}
            hint="Comma-separated, e.g. notes:read."
          >
            <input
              name="other-scopes"
              value={other}
              onInput={(e) => setOther(e.currentTarget.value)}
            />
          </Field>
        </fieldset>
        <fieldset>
          <legend>Tools this key may use</legend>
          <label>
            <input
              type="checkbox"
              checked={allTools}
              onChange={(e) => setAllTools(e.currentTarget.checked)}
            />
            All tools
          </label>
          <span class="hint">
            Every tool its scopes allow, including tools added later. Untick to allow only some.
          </span>
          {!allTools ? (
            <div class="tool-picks">
              {(catalog.data?.tools ?? []).map((t) => (
                <label key={t.name} title={t.description}>
                  <input
                    type="checkbox"
                    checked={tools.has(t.name)}
                    onChange={(e) => setTools(toggle(tools, t.name, e.currentTarget.checked))}
                  />
                  {t.name}
                  {t.requiredScopes.length ? (
                    <span class="muted"> ({t.requiredScopes.join(', ')})</span>
                  ) : null}
                </label>
              ))}
            </div>
          ) : null}
          {action.fields.tools ? (
            <span class="field-error" role="alert" data-field="tools">
              {action.fields.tools}
            </span>
          ) : null}
        </fieldset>
        <div class="form-row">
          <Field
            label="Expires"
            name="expiresAt"
            fields={action.fields}
            hint="Optional; local time."
          >
            <input
              name="expires"
              type="datetime-local"
              value={expires}
              onInput={(e) => setExpires(e.currentTarget.value)}
            />
          </Field>
          <Field
            label="Requests per minute"
            name="rateLimitPerMinute"
            fields={action.fields}
            hint="Optional; the tenant's limit applies when empty."
          >
            <input
              name="per-minute"
              type="number"
              min={0}
              value={perMinute}
              onInput={(e) => setPerMinute(e.currentTarget.value)}
            />
          </Field>
        </div>
        {unshown(action.error, KEY_FIELDS) ? <ErrorBox error={action.error} /> : null}
        <div class="actions">
          <button type="submit" class="primary" disabled={action.busy || !name.trim()}>
            Create key
          </button>
        </div>
      </form>
    </section>
  );
}

/** A new secret: shown here once, copied with the button, then forgotten by the page. */
function NewSecret(props: {
  slug: string;
  issued: IssuedApiKey;
  what: string;
  onDone: () => void;
}) {
  return (
    <section class="panel new-secret" aria-labelledby="new-secret-title">
      <h3 id="new-secret-title">
        {props.what} “{props.issued.name}”
      </h3>
      <p class="warning" role="status">
        Copy this secret now. It is shown only this once: the platform keeps only its hash, and this
        page forgets it when you leave.
      </p>
      <div class="secret">
        <code data-testid="new-secret">{props.issued.secret}</code>
        <CopyButton text={props.issued.secret} label="Copy secret" />
      </div>
      <h4>Connect with it</h4>
      <ConnectSnippets slug={props.slug} secret={props.issued.secret} />
      <div class="actions">
        <button type="button" class="primary" onClick={props.onDone}>
          I have copied it
        </button>
      </div>
    </section>
  );
}

function KeyRow(props: {
  slug: string;
  apiKey: ApiKey;
  onRotated: (k: IssuedApiKey) => void;
  onChanged: () => void;
}) {
  const k = props.apiKey;
  const [open, setOpen] = useState<'rotate' | 'revoke' | null>(null);
  const [grace, setGrace] = useState(0);
  const action = useAction();
  const st = status(k);
  const path = `/admin/tenants/${enc(props.slug)}/keys/${enc(k.id)}`;
  return (
    <>
      <tr data-key-id={k.id}>
        <td>
          <strong>{k.name}</strong>
          <div class="muted">
            <code>{k.prefix}…</code>
          </div>
        </td>
        <td>
          <span class={`status ${st}`}>{st}</span>
          {k.previousSecretValidUntil && new Date(k.previousSecretValidUntil) > new Date() ? (
            <div class="hint">
              previous secret valid until <Time iso={k.previousSecretValidUntil} />
            </div>
          ) : null}
        </td>
        <td>{k.scopes.length ? k.scopes.join(', ') : <span class="muted">none</span>}</td>
        <td>
          {k.tools ? (
            k.tools.join(', ') || <span class="muted">none</span>
          ) : (
            <span class="muted">all</span>
          )}
        </td>
        <td>
          <Time iso={k.lastUsedAt} empty="never" />
        </td>
        <td>
          <Time iso={k.expiresAt} empty="never" />
        </td>
        <td>
          <Time iso={k.createdAt} />
        </td>
        <td class="row-actions">
          {st !== 'revoked' ? (
            <>
              <button type="button" onClick={() => setOpen(open === 'rotate' ? null : 'rotate')}>
                Rotate
              </button>
              <button
                type="button"
                class="danger"
                onClick={() => setOpen(open === 'revoke' ? null : 'revoke')}
              >
                Revoke
              </button>
            </>
          ) : (
            <span class="muted">
              revoked <Time iso={k.revokedAt} />
            </span>
          )}
        </td>
      </tr>
      {open || action.error ? (
        <tr class="key-action">
          <td colSpan={8}>
            <ErrorBox error={action.error} />
            {open === 'rotate' ? (
              <form
                class="inline"
                onSubmit={(e) => {
                  e.preventDefault();
                  void action
                    .run(() => api<IssuedApiKey>('POST', `${path}/rotate`, { graceSeconds: grace }))
                    .then((issued) => {
                      if (!issued) return;
                      setOpen(null);
                      props.onRotated(issued);
                    });
                }}
              >
                <Field
                  label="Grace period"
                  name="graceSeconds"
                  fields={action.fields}
                  hint="How long the current secret keeps working, so clients can move over."
                >
                  <select
                    name="grace"
                    value={String(grace)}
                    onChange={(e) => setGrace(Number(e.currentTarget.value))}
                  >
                    {GRACE.map((g) => (
                      <option key={g.seconds} value={String(g.seconds)}>
                        {g.label}
                      </option>
                    ))}
                  </select>
                </Field>
                <button type="submit" class="primary" disabled={action.busy}>
                  Rotate now
                </button>
                <button type="button" onClick={() => setOpen(null)}>
                  Cancel
                </button>
              </form>
            ) : null}
            {open === 'revoke' ? (
              <TypedConfirm
                word={k.name}
                action="Revoke key"
                busy={action.busy}
                onCancel={() => setOpen(null)}
                onConfirm={() =>
                  void action
                    .run(() => api('POST', `${path}/revoke`))
                    .then((ok) => {
                      if (ok === undefined) return;
                      setOpen(null);
                      props.onChanged();
                    })
                }
              >
                <p class="warning">
                  Every client using <strong>{k.name}</strong> is refused from its next request on,
                  open sessions included. A revoked key cannot be restored.
                </p>
              </TypedConfirm>
            ) : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}

export function KeysPage(props: TenantPageProps) {
  const { slug } = props.tenant;
  const pages = useCursors();
  const { cursor } = pages;
  const [issued, setIssued] = useState<{ key: IssuedApiKey; what: string } | null>(null);
  const { data, error, loading, reload } = useLoad(
    () =>
      api<Page<ApiKey>>(
        'GET',
        `/admin/tenants/${enc(slug)}/keys${query({ limit: PAGE_SIZE, cursor })}`,
      ),
    [slug, cursor],
  );
  return (
    <section aria-labelledby="keys">
      <h3 id="keys">API keys</h3>
      {issued ? (
        <NewSecret
          slug={slug}
          issued={issued.key}
          what={issued.what}
          onDone={() => setIssued(null)}
        />
      ) : null}
      <ErrorBox error={error} />
      <Loading when={loading && !data} />
      {data && data.items.length === 0 && pages.atStart ? (
        <p class="muted">No keys yet. Create one below to connect a client.</p>
      ) : null}
      {data && data.items.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Status</th>
              <th>Scopes</th>
              <th>Tools</th>
              <th>Last used</th>
              <th>Expires</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.items.map((k) => (
              <KeyRow
                key={k.id}
                slug={slug}
                apiKey={k}
                onChanged={reload}
                onRotated={(key) => {
                  setIssued({ key, what: 'New secret for' });
                  reload();
                }}
              />
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager
        nextCursor={data?.nextCursor}
        atStart={pages.atStart}
        onNext={() => pages.next(data?.nextCursor)}
        onFirst={pages.first}
      />
      <CreateKey
        slug={slug}
        onCreated={(key) => {
          setIssued({ key, what: 'Created key' });
          reload();
        }}
      />
    </section>
  );
}
