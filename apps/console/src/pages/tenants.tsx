import { useState } from 'preact/hooks';
import { api, enc, query, type Page, unshown } from '../api';
import {
  ErrorBox,
  Field,
  Loading,
  Pager,
  Time,
  TypedConfirm,
  useAction,
  useCursors,
  useLoad,
} from '../components';
import { Link, navigate } from '../router';
import type { Session } from '../session';
import type { Tenant } from '../types';

const PAGE_SIZE = 20;

function CreateTenant(props: { onCreated: (t: Tenant) => void }) {
  const [slug, setSlug] = useState('');
  const [name, setName] = useState('');
  const action = useAction();
  return (
    <section aria-labelledby="create-tenant">
      <h3 id="create-tenant">New tenant</h3>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void action
            .run(() =>
              api<Tenant>('POST', '/admin/tenants', { slug: slug.trim(), name: name.trim() }),
            )
            .then((t) => t && props.onCreated(t));
        }}
      >
        <Field
          label="Slug"
          name="slug"
          fields={action.fields}
          hint="Lowercase letters, digits and hyphens; the endpoint is /t/<slug>/mcp."
        >
          <input
            name="slug"
            required
            value={slug}
            onInput={(e) => setSlug(e.currentTarget.value)}
          />
        </Field>
        <Field label="Name" name="name" fields={action.fields}>
          <input
            name="name"
            required
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" class="primary" disabled={action.busy}>
          Create tenant
        </button>
      </form>
      {unshown(action.error, ['slug', 'name']) ? <ErrorBox error={action.error} /> : null}
    </section>
  );
}

function TenantRow(props: { tenant: Tenant; onChanged: () => void }) {
  const { tenant } = props;
  const [confirming, setConfirming] = useState(false);
  const action = useAction();
  const setStatus = (status: Tenant['status']) =>
    void action
      .run(() => api('PATCH', `/admin/tenants/${enc(tenant.slug)}`, { status }))
      .then((ok) => ok && props.onChanged());
  return (
    <>
      <tr data-tenant={tenant.slug}>
        <td>
          <Link to={`/tenants/${enc(tenant.slug)}/keys`}>{tenant.name}</Link>
        </td>
        <td>
          <code>{tenant.slug}</code>
        </td>
        <td>
          <span class={`status ${tenant.status}`}>{tenant.status}</span>
        </td>
        <td>{tenant.protocol}</td>
        <td>
          <Time iso={tenant.createdAt} />
        </td>
        <td class="row-actions">
          {tenant.status === 'active' ? (
            <button type="button" disabled={action.busy} onClick={() => setStatus('suspended')}>
              Suspend
            </button>
          ) : (
            <button type="button" disabled={action.busy} onClick={() => setStatus('active')}>
              Resume
            </button>
          )}
          <button type="button" class="danger" onClick={() => setConfirming(true)}>
            Delete
          </button>
        </td>
      </tr>
      {confirming || action.error ? (
        <tr>
          <td colSpan={6}>
            <ErrorBox error={action.error} />
            {confirming ? (
              <TypedConfirm
                word={tenant.slug}
                action="Delete tenant"
                busy={action.busy}
                onCancel={() => setConfirming(false)}
                onConfirm={() =>
                  void action
                    .run(() => api('DELETE', `/admin/tenants/${enc(tenant.slug)}`))
                    .then(() => {
                      setConfirming(false);
                      props.onChanged();
                    })
                }
              >
                <p class="warning">
                  Deleting <strong>{tenant.name}</strong> removes its keys, grants, tool settings,
                  sources and audit log at once; its endpoint stops answering. This cannot be
                  undone.
                </p>
              </TypedConfirm>
            ) : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** The platform admin's list of tenants: keyset pages, oldest first, as the API keeps them. */
export function TenantsPage(props: { session: Session }) {
  const pages = useCursors();
  const { cursor } = pages;
  const { data, error, loading, reload } = useLoad(
    () => api<Page<Tenant>>('GET', `/admin/tenants${query({ limit: PAGE_SIZE, cursor })}`),
    [cursor],
  );
  if (props.session.role !== 'platform') {
    return <p>Only the platform admin lists tenants.</p>;
  }
  return (
    <section class="tenants">
      <h2>Tenants</h2>
      <CreateTenant onCreated={(t) => navigate(`/tenants/${enc(t.slug)}/keys`)} />
      <ErrorBox error={error} />
      <Loading when={loading && !data} />
      {data ? (
        data.items.length === 0 && pages.atStart ? (
          <p class="muted">No tenants yet: create the first one above.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Slug</th>
                <th>Status</th>
                <th>Protocol</th>
                <th>Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.items.map((t) => (
                <TenantRow key={t.id} tenant={t} onChanged={reload} />
              ))}
            </tbody>
          </table>
        )
      ) : null}
      <Pager
        nextCursor={data?.nextCursor}
        atStart={pages.atStart}
        onNext={() => pages.next(data?.nextCursor)}
        onFirst={pages.first}
      />
    </section>
  );
}
