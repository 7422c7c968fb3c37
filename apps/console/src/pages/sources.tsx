import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { TenantPageProps } from '../app';
import { api, enc, query, type Page, unshown } from '../api';
import { splitList } from '../forms';
import {
  ErrorBox,
  Field,
  Loading,
  Pager,
  useCursors,
  Time,
  TypedConfirm,
  useAction,
  useLoad,
} from '../components';
import './sources.css';

// The admin API's ToolSource view (libs/admin/src/source-views.ts): never a secret.
interface SourceTool {
  name: string;
  upstreamName: string;
  title: string | null;
  description: string;
  requiredScopes: string[];
  enabled: boolean;
}

interface Source {
  id: string;
  name: string;
  kind: 'mcp' | 'openapi';
  prefix: string;
  enabled: boolean;
  scopes: string[];
  toolScopes: Record<string, string[]>;
  mcp: { url: string; transport: Transport; headers: string[] } | null;
  openapi: {
    baseUrl: string;
    documentUrl: string | null;
    inlineDocument: boolean;
    operations: { tags?: string[]; operationIds?: string[] } | null;
    credential:
      | { kind: 'header'; header: string }
      | { kind: 'oauth'; tokenUrl: string; clientId: string; scope: string | null }
      | null;
  } | null;
  tools: SourceTool[];
  skipped: { name: string; reason: string }[];
  health: {
    refreshedAt: string | null;
    lastSuccessAt: string | null;
    lastErrorAt: string | null;
    lastError: string | null;
    latencyMs: number | null;
    breaker: 'closed' | 'open' | 'half-open';
  };
  createdAt: string;
  updatedAt: string;
}

type Transport = 'auto' | 'streamable-http' | 'sse';

const PAGE_SIZE = 20;

/** Clears a success message after a while, so an old one is not read as news. */
function useFlash(): [string | undefined, (m: string | undefined) => void] {
  const [message, setMessage] = useState<string>();
  useEffect(() => {
    if (!message) return;
    const t = setTimeout(() => setMessage(undefined), 8000);
    return () => clearTimeout(t);
  }, [message]);
  return [message, setMessage];
}

const toolCount = (n: number) => `${n} tool${n === 1 ? '' : 's'}`;

function Health(props: { source: Source }) {
  const h = props.source.health;
  return (
    <div class="source-health">
      <span class={`breaker ${h.breaker}`} title="This replica's circuit breaker">
        {h.breaker === 'closed'
          ? 'healthy'
          : h.breaker === 'open'
            ? 'paused (breaker open)'
            : 'trial call'}
      </span>
      {h.lastError && (!h.lastSuccessAt || (h.lastErrorAt ?? '') > h.lastSuccessAt) ? (
        <span class="source-error" title={h.lastErrorAt ?? undefined}>
          {h.lastError}
        </span>
      ) : null}
      <span class="muted">
        tools read <Time iso={h.refreshedAt} empty="never" />
      </span>
    </div>
  );
}

function Details(props: { source: Source }) {
  const s = props.source;
  const h = s.health;
  const cred = s.openapi?.credential;
  return (
    <div class="source-details" data-source-details={s.name}>
      <dl>
        {s.mcp ? (
          <>
            <dt>MCP URL</dt>
            <dd>
              <code>{s.mcp.url}</code>
            </dd>
            <dt>Transport</dt>
            <dd>{s.mcp.transport}</dd>
            <dt>Headers sent</dt>
            <dd>
              {s.mcp.headers.length ? (
                s.mcp.headers.map((n) => (
                  <code key={n} class="header-name">
                    {n}
                  </code>
                ))
              ) : (
                <span class="muted">none</span>
              )}{' '}
              <span class="muted">(values are write-only)</span>
            </dd>
          </>
        ) : null}
        {s.openapi ? (
          <>
            <dt>Base URL</dt>
            <dd>
              <code>{s.openapi.baseUrl}</code>
            </dd>
            <dt>Document</dt>
            <dd>
              {s.openapi.documentUrl ? (
                <code>{s.openapi.documentUrl}</code>
              ) : (
                'given inline (refresh re-reads the stored document)'
              )}
            </dd>
            <dt>Operations</dt>
            <dd>
              {s.openapi.operations
                ? [
                    ...(s.openapi.operations.tags?.map((t) => `tag ${t}`) ?? []),
                    ...(s.openapi.operations.operationIds ?? []),
                  ].join(', ')
                : 'all'}
            </dd>
            <dt>Credential</dt>
            <dd>
              {!cred ? (
                <span class="muted">none</span>
              ) : cred.kind === 'header' ? (
                <>
                  header <code class="header-name">{cred.header}</code>{' '}
                  <span class="muted">(value write-only)</span>
                </>
              ) : (
                <>
                  OAuth client <code>{cred.clientId}</code> at <code>{cred.tokenUrl}</code>
                  {cred.scope ? ` (scope ${cred.scope})` : ''}{' '}
                  <span class="muted">(secret write-only)</span>
                </>
              )}
            </dd>
          </>
        ) : null}
        <dt>Scopes for every tool</dt>
        <dd>{s.scopes.length ? s.scopes.join(', ') : <span class="muted">none</span>}</dd>
        <dt>Last success</dt>
        <dd>
          <Time iso={h.lastSuccessAt} empty="never" />
          {h.latencyMs !== null ? <span class="muted"> ({h.latencyMs} ms)</span> : null}
        </dd>
        <dt>Last error</dt>
        <dd>
          {h.lastError ? (
            <>
              <span class="source-error">{h.lastError}</span> <Time iso={h.lastErrorAt} />
            </>
          ) : (
            <span class="muted">none</span>
          )}
        </dd>
      </dl>
      <h4>Tools ({s.tools.length})</h4>
      {s.tools.length ? (
        <table class="source-tools">
          <thead>
            <tr>
              <th>Tool</th>
              <th>Upstream name</th>
              <th>Required scopes</th>
              <th>Enabled</th>
              <th>Description</th>
            </tr>
          </thead>
          <tbody>
            {s.tools.map((t) => (
              <tr key={t.name} data-tool={t.name}>
                <td>
                  <code>{t.name}</code>
                </td>
                <td>
                  <code>{t.upstreamName}</code>
                </td>
                <td>
                  {t.requiredScopes.length ? (
                    t.requiredScopes.join(', ')
                  ) : (
                    <span class="muted">none</span>
                  )}
                </td>
                <td>{t.enabled ? 'yes' : 'switched off'}</td>
                <td>{t.title ? `${t.title}: ${t.description}` : t.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">The source offers no tools.</p>
      )}
      {s.skipped.length ? (
        <>
          <h4>Skipped ({s.skipped.length})</h4>
          <ul class="skipped">
            {s.skipped.map((k) => (
              <li key={k.name} data-skipped={k.name}>
                <code>{k.name}</code>: {k.reason}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}

const COLUMNS = 7;

function SourceRow(props: {
  slug: string;
  source: Source;
  onChanged: () => void;
  onDeleted: (name: string) => void;
}) {
  const s = props.source;
  const base = `/admin/tenants/${enc(props.slug)}/sources/${enc(s.id)}`;
  const action = useAction();
  const [open, setOpen] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [done, setDone] = useFlash();
  const run = (what: () => Promise<string>) =>
    void action.run(async () => {
      setDone(undefined);
      setDone(await what());
      props.onChanged();
    });
  return (
    <Fragment>
      <tr data-source={s.name}>
        <td>
          <strong>{s.name}</strong>
        </td>
        <td>{s.kind === 'mcp' ? 'MCP server' : 'OpenAPI service'}</td>
        <td>
          <code>{s.prefix}_</code>
        </td>
        <td>
          <span class={`status ${s.enabled ? '' : 'disabled'}`}>
            {s.enabled ? 'enabled' : 'disabled'}
          </span>
        </td>
        <td>{s.tools.length}</td>
        <td>
          <Health source={s} />
        </td>
        <td>
          <div class="actions">
            <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
              {open ? 'Hide details' : 'Details'}
            </button>
            <button
              type="button"
              disabled={action.busy}
              onClick={() =>
                run(async () => {
                  const r = await api<Source>('POST', `${base}/refresh`);
                  return `Tools of ${s.name} read again: ${toolCount(r.tools.length)}.`;
                })
              }
            >
              Refresh
            </button>
            <button
              type="button"
              disabled={action.busy}
              onClick={() =>
                run(async () => {
                  await api<Source>('PATCH', base, { enabled: !s.enabled });
                  return s.enabled
                    ? `${s.name} disabled: its tools left the catalog.`
                    : `${s.name} enabled: its tools are back in the catalog.`;
                })
              }
            >
              {s.enabled ? 'Disable' : 'Enable'}
            </button>
            <button
              type="button"
              class="danger"
              disabled={action.busy}
              onClick={() => {
                action.clear();
                setDeleting(true);
              }}
            >
              Delete
            </button>
          </div>
        </td>
      </tr>
      {action.error || done || deleting ? (
        <tr class="source-extra" data-source-status={s.name}>
          <td colSpan={COLUMNS}>
            <ErrorBox error={action.error} />
            {done ? (
              <p class="success" role="status">
                {done}
              </p>
            ) : null}
            {deleting ? (
              <TypedConfirm
                word={s.name}
                action="Delete source"
                busy={action.busy}
                onCancel={() => setDeleting(false)}
                onConfirm={() =>
                  void action.run(async () => {
                    await api('DELETE', base);
                    setDeleting(false);
                    props.onDeleted(s.name);
                  })
                }
              >
                <p>
                  Deleting <strong>{s.name}</strong> removes its {toolCount(s.tools.length)} (
                  <code>{s.prefix}_…</code>) from every client at once, and forgets their switches.
                </p>
              </TypedConfirm>
            ) : null}
          </td>
        </tr>
      ) : null}
      {open ? (
        <tr class="source-extra">
          <td colSpan={COLUMNS}>
            <Details source={s} />
          </td>
        </tr>
      ) : null}
    </Fragment>
  );
}

interface HeaderRow {
  key: number;
  name: string;
  value: string;
}

let headerRows = 0;

function CreateSource(props: { slug: string; onCreated: (s: Source) => void }) {
  const action = useAction();
  const [done, setDone] = useFlash();
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'mcp' | 'openapi'>('mcp');
  const [url, setUrl] = useState('');
  const [transport, setTransport] = useState<Transport>('auto');
  const [headers, setHeaders] = useState<HeaderRow[]>([]);
  const [documentUrl, setDocumentUrl] = useState('');
  const [document, setDocument] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const [credHeader, setCredHeader] = useState('');
  const [credValue, setCredValue] = useState('');
  const [prefix, setPrefix] = useState('');
  const [scopes, setScopes] = useState('');

  const reset = () => {
    setName('');
    setUrl('');
    setTransport('auto');
    setHeaders([]);
    setDocumentUrl('');
    setDocument('');
    setBaseUrl('');
    setCredHeader('');
    setCredValue('');
    setPrefix('');
    setScopes('');
  };

  const body = (): Record<string, unknown> => {
    const common = {
      name: name.trim(),
      ...(prefix.trim() ? { prefix: prefix.trim() } : {}),
      ...(splitList(scopes).length ? { scopes: splitList(scopes) } : {}),
    };
    if (kind === 'mcp') {
      const named = headers.filter((h) => h.name.trim() || h.value);
      return {
        kind,
        ...common,
        url: url.trim(),
        transport,
        ...(named.length
          ? { headers: Object.fromEntries(named.map((h) => [h.name.trim(), h.value])) }
          : {}),
      };
    }
    return {
      kind,
      ...common,
      ...(documentUrl.trim() ? { documentUrl: documentUrl.trim() } : {}),
      ...(document.trim() ? { document } : {}),
      baseUrl: baseUrl.trim(),
      ...(credHeader.trim() || credValue
        ? { credential: { header: credHeader.trim(), value: credValue } }
        : {}),
    };
  };

  const shownFields = [
    'name',
    'kind',
    'prefix',
    'scopes',
    ...(kind === 'mcp'
      ? ['url', 'transport', ...headers.map((h) => `headers.${h.name.trim()}`)]
      : ['documentUrl', 'document', 'baseUrl', 'credential']),
  ];
  const setRow = (key: number, change: Partial<HeaderRow>) =>
    setHeaders((rows) => rows.map((r) => (r.key === key ? { ...r, ...change } : r)));
  const f = action.fields;

  return (
    <section class="panel" aria-labelledby="add-source-heading">
      <h3 id="add-source-heading">Add a source</h3>
      <p class="muted">
        Its tools are read when you add it (nothing is saved when they cannot be read) and join this
        tenant's catalog as <code>&lt;prefix&gt;_&lt;tool&gt;</code>.
      </p>
      <form
        noValidate
        class="source-form"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(async () => {
            setDone(undefined);
            const created = await api<Source>(
              'POST',
              `/admin/tenants/${enc(props.slug)}/sources`,
              body(),
            );
            reset();
            setDone(`Added ${created.name} with ${toolCount(created.tools.length)}.`);
            props.onCreated(created);
          });
        }}
      >
        <div class="source-grid">
          <Field
            label="Name"
            name="name"
            fields={f}
            hint="Lowercase letters, digits and dashes, e.g. github."
          >
            <input
              name="name"
              required
              autocomplete="off"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </Field>
          <Field label="Kind" name="kind" fields={f}>
            <select
              name="kind"
              value={kind}
              onChange={(e) => setKind(e.currentTarget.value as 'mcp' | 'openapi')}
            >
              <option value="mcp">MCP server</option>
              <option value="openapi">OpenAPI service</option>
            </select>
          </Field>
        </div>
        {kind === 'mcp' ? (
          <>
            <div class="source-grid">
              <Field label="MCP URL" name="url" fields={f} hint="e.g. https://mcp.example.com/mcp">
                <input
                  name="url"
                  type="url"
                  required
                  value={url}
                  onInput={(e) => setUrl(e.currentTarget.value)}
                />
              </Field>
              <Field
                label="Transport"
                name="transport"
                fields={f}
                hint="auto: Streamable HTTP in the newest era offered, else legacy HTTP+SSE."
              >
                <select
                  name="transport"
                  value={transport}
                  onChange={(e) => setTransport(e.currentTarget.value as Transport)}
                >
                  <option value="auto">auto</option>
                  <option value="streamable-http">streamable-http</option>
                  <option value="sse">sse</option>
                </select>
              </Field>
            </div>
            <fieldset class="source-headers">
              <legend>Headers</legend>
              <p class="hint">
                Sent with every request to the upstream. Values are write-only: stored sealed, never
                shown again.
              </p>
              {headers.map((h, i) => (
                <div class="header-row" key={h.key}>
                  <Field
                    label={`Header ${i + 1} name`}
                    name={`headers.${h.name.trim()}`}
                    fields={f}
                  >
                    <input
                      name={`header-name-${i + 1}`}
                      autocomplete="off"
                      value={h.name}
                      onInput={(e) => setRow(h.key, { name: e.currentTarget.value })}
                    />
                  </Field>
                  <Field label={`Header ${i + 1} value`} name={`header-value-${i + 1}`}>
                    <input
                      name={`header-value-${i + 1}`}
                      type="password"
                      autocomplete="new-password"
                      value={h.value}
                      onInput={(e) => setRow(h.key, { value: e.currentTarget.value })}
                    />
                  </Field>
                  <button
                    type="button"
                    class="link"
                    onClick={() => setHeaders((rows) => rows.filter((r) => r.key !== h.key))}
                  >
                    Remove header {i + 1}
                  </button>
                </div>
              ))}
              <button
                type="button"
                onClick={() =>
                  setHeaders((rows) => [...rows, { key: ++headerRows, name: '', value: '' }])
                }
              >
                Add header
              </button>
            </fieldset>
          </>
        ) : (
          <>
            <Field
              label="Document URL"
              name="documentUrl"
              fields={f}
              hint="Where the OpenAPI 3.x document is fetched (now and on every refresh); or paste it below."
            >
              <input
                name="documentUrl"
                type="url"
                value={documentUrl}
                onInput={(e) => setDocumentUrl(e.currentTarget.value)}
              />
            </Field>
            <Field
              label="Document (JSON or YAML)"
              name="document"
              fields={f}
              hint="Leave empty when you give the document URL."
            >
              <textarea
                name="document"
                rows={8}
                spellcheck={false}
                value={document}
                onInput={(e) => setDocument(e.currentTarget.value)}
              />
            </Field>
            <Field
              label="Base URL"
              name="baseUrl"
              fields={f}
              hint="Where the API is served; operation paths are added to it."
            >
              <input
                name="baseUrl"
                type="url"
                required
                value={baseUrl}
                onInput={(e) => setBaseUrl(e.currentTarget.value)}
              />
            </Field>
            <div class="source-grid">
              <Field
                label="Credential header"
                name="credential"
                fields={f}
                hint="Optional: the header carrying the API's own key, e.g. X-Api-Key."
              >
                <input
                  name="credentialHeader"
                  autocomplete="off"
                  value={credHeader}
                  onInput={(e) => setCredHeader(e.currentTarget.value)}
                />
              </Field>
              <Field
                label="Credential value"
                name="credential-value"
                hint="Write-only: stored sealed, never shown again."
              >
                <input
                  name="credentialValue"
                  type="password"
                  autocomplete="new-password"
                  value={credValue}
                  onInput={(e) => setCredValue(e.currentTarget.value)}
                />
              </Field>
            </div>
          </>
        )}
        <div class="source-grid">
          <Field
            label="Prefix"
            name="prefix"
            fields={f}
            hint="Optional: the start of every tool name; defaults to the name."
          >
            <input name="prefix" value={prefix} onInput={(e) => setPrefix(e.currentTarget.value)} />
          </Field>
          <Field
            label="Scopes"
            name="scopes"
            fields={f}
            hint="Optional, comma-separated: what a caller needs for every tool, e.g. github:read."
          >
            <input name="scopes" value={scopes} onInput={(e) => setScopes(e.currentTarget.value)} />
          </Field>
        </div>
        {unshown(action.error, shownFields) ? <ErrorBox error={action.error} /> : null}
        {done ? (
          <p class="success" role="status">
            {done}
          </p>
        ) : null}
        <div class="actions">
          <button type="submit" class="primary" disabled={action.busy}>
            {action.busy ? 'Reading its tools…' : 'Add source'}
          </button>
        </div>
      </form>
    </section>
  );
}

export function SourcesPage(props: TenantPageProps) {
  const slug = props.tenant.slug;
  const pages = useCursors();
  const { cursor } = pages;
  const [deleted, setDeleted] = useFlash();
  const { data, error, loading, reload } = useLoad(
    () =>
      api<Page<Source>>(
        'GET',
        `/admin/tenants/${enc(slug)}/sources${query({ limit: PAGE_SIZE, cursor })}`,
      ),
    [slug, cursor],
  );
  return (
    <div class="sources">
      <section class="panel" aria-labelledby="sources-heading">
        <h3 id="sources-heading">Tool sources</h3>
        <p class="muted">
          This tenant's own MCP servers and HTTP APIs. Their tools are served beside the built-in
          ones, behind the same keys, scopes, audit and rate limits; the caller's credential never
          reaches them.
        </p>
        <ErrorBox error={error} />
        {deleted ? (
          <p class="success" role="status">
            {deleted}
          </p>
        ) : null}
        <Loading when={loading && !data} />
        {data && data.items.length === 0 && pages.atStart ? (
          <p class="muted">No sources yet: add one below.</p>
        ) : null}
        {data && data.items.length > 0 ? (
          <table class="sources-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>Prefix</th>
                <th>Enabled</th>
                <th>Tools</th>
                <th>Health</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((s) => (
                <SourceRow
                  key={s.id}
                  slug={slug}
                  source={s}
                  onChanged={reload}
                  onDeleted={(name) => {
                    setDeleted(`Source ${name} deleted: its tools are gone from the catalog.`);
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
      </section>
      <CreateSource
        slug={slug}
        onCreated={() => {
          if (!pages.atStart) pages.first();
          else reload();
        }}
      />
    </div>
  );
}
