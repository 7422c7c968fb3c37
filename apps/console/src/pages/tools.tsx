import { useState } from 'preact/hooks';
import type { TenantPageProps } from '../app';
import { api, enc } from '../api';
import { ErrorBox, Loading, useAction, useLoad } from '../components';
import type { Prompt, Resource, Tool } from '../types';

type Kind = 'tools' | 'resources' | 'prompts';

interface Row {
  name: string;
  title: string | null;
  description: string | null;
  requiredScopes: string[];
  enabled: boolean;
  extra: preact.ComponentChildren;
}

/**
 * One switch, shown in its new position at once and put back if the platform refuses; the platform
 * tells open sessions (`notifications/*_list_changed`) as soon as it has stored the change.
 */
function Toggle(props: { slug: string; kind: Kind; row: Row }) {
  const action = useAction();
  const { row } = props;
  const [enabled, setEnabled] = useState(row.enabled);
  return (
    <>
      <label class="switch">
        <input
          type="checkbox"
          aria-label={`Enabled: ${row.name}`}
          checked={enabled}
          disabled={action.busy}
          onChange={(e) => {
            const next = e.currentTarget.checked;
            setEnabled(next);
            void action
              .run(() =>
                api('PUT', `/admin/tenants/${enc(props.slug)}/${props.kind}/${enc(row.name)}`, {
                  enabled: next,
                }),
              )
              .then((ok) => ok === undefined && setEnabled(!next));
          }}
        />
        <span>{enabled ? 'on' : 'off'}</span>
      </label>
      <ErrorBox error={action.error} />
    </>
  );
}

function Catalog(props: {
  slug: string;
  kind: Kind;
  title: string;
  extraHeading: string;
  load: () => Promise<Row[]>;
}) {
  const { data, error, loading } = useLoad(props.load, [props.slug]);
  const rows = data ?? [];
  return (
    <section aria-labelledby={`catalog-${props.kind}`}>
      <h3 id={`catalog-${props.kind}`}>
        {props.title} {data ? <span class="muted">({data.length})</span> : null}
      </h3>
      <ErrorBox error={error} />
      <Loading when={loading && !data} />
      {data && data.length === 0 ? <p class="muted">None.</p> : null}
      {rows.length ? (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Description</th>
              <th>Required scopes</th>
              <th>{props.extraHeading}</th>
              <th>Enabled</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.name} data-tool={r.name}>
                <td>
                  <code>{r.name}</code>
                  {r.title ? <div class="muted">{r.title}</div> : null}
                </td>
                <td>{r.description}</td>
                <td>
                  {r.requiredScopes.length ? (
                    r.requiredScopes.map((s) => (
                      <code key={s} class="scope">
                        {s}
                      </code>
                    ))
                  ) : (
                    <span class="muted">any key</span>
                  )}
                </td>
                <td>{r.extra}</td>
                <td>
                  <Toggle slug={props.slug} kind={props.kind} row={r} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

/** The tenant's catalog: what a key with the right scopes may call, read and get. */
export function ToolsPage(props: TenantPageProps) {
  const { slug } = props.tenant;
  const base = `/admin/tenants/${enc(slug)}`;
  return (
    <>
      <p class="muted">
        Turning an entry off hides it from every client of this tenant at once (open sessions are
        told); a key also needs the entry's scopes, and its allow-list if it has one.
      </p>
      <Catalog
        slug={slug}
        kind="tools"
        title="Tools"
        extraHeading="Source"
        load={async () =>
          (await api<{ items: Tool[] }>('GET', `${base}/tools`)).items.map((t) => ({
            ...t,
            extra: t.source ? <code>{t.source}</code> : <span class="muted">built-in</span>,
          }))
        }
      />
      <Catalog
        slug={slug}
        kind="resources"
        title="Resources"
        extraHeading="URI"
        load={async () =>
          (await api<{ items: Resource[] }>('GET', `${base}/resources`)).items.map((r) => ({
            ...r,
            extra: (
              <>
                <code>{r.uri ?? r.uriTemplate}</code>
                {r.kind === 'template' ? <span class="muted"> (template)</span> : null}
              </>
            ),
          }))
        }
      />
      <Catalog
        slug={slug}
        kind="prompts"
        title="Prompts"
        extraHeading="Arguments"
        load={async () =>
          (await api<{ items: Prompt[] }>('GET', `${base}/prompts`)).items.map((p) => ({
            ...p,
            extra: p.arguments.length ? (
              p.arguments.map((a) => (
                <code key={a.name} class="scope" title={a.description ?? undefined}>
                  {a.name}
                  {a.required ? '*' : ''}
                </code>
              ))
            ) : (
              <span class="muted">none</span>
            ),
          }))
        }
      />
    </>
  );
}
