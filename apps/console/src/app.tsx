import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, enc, SIGNED_OUT } from './api';
import { ErrorBox, Field, Loading, useAction, useLoad } from './components';
import { Link, match, navigate, usePath } from './router';
import { clearSession, loadSession, saveSession, type Session } from './session';
import type { Tenant } from './types';
import { AuditPage } from './pages/audit';
import { ConnectPage } from './pages/connect';
import { IdentityPage } from './pages/identity';
import { KeysPage } from './pages/keys';
import { ProtocolPage } from './pages/protocol';
import { SourcesPage } from './pages/sources';
import { TenantsPage } from './pages/tenants';
import { ToolsPage } from './pages/tools';

/** What every page of one tenant receives. */
export interface TenantPageProps {
  tenant: Tenant;
  session: Session;
  reloadTenant: () => void;
}

const TABS: { path: string; label: string; Page: (p: TenantPageProps) => preact.JSX.Element }[] = [
  { path: 'keys', label: 'Keys', Page: KeysPage },
  { path: 'tools', label: 'Tools', Page: ToolsPage },
  { path: 'identity', label: 'Identity providers', Page: IdentityPage },
  { path: 'protocol', label: 'Protocol', Page: ProtocolPage },
  { path: 'sources', label: 'Sources', Page: SourcesPage },
  { path: 'audit', label: 'Audit', Page: AuditPage },
  { path: 'connect', label: 'Connect', Page: ConnectPage },
];

/**
 * Which credential this is: the platform admin token answers the tenant list; a tenant admin's key
 * or JWT answers its own tenant. Nothing is stored until the platform has accepted it.
 */
async function signIn(token: string, tenant: string): Promise<Session> {
  try {
    await api('GET', '/admin/tenants?limit=1', undefined, token);
    return { token, role: 'platform' };
  } catch (err) {
    if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 403)) throw err;
    if (!tenant) {
      throw new ApiError(
        err.status,
        err.status === 403
          ? 'This credential is not the platform admin token. For a tenant admin key or JWT, enter its tenant too.'
          : `The platform did not accept this as the admin token (${err.message}). For a tenant admin key or JWT, enter its tenant too.`,
      );
    }
  }
  try {
    await api('GET', `/admin/tenants/${enc(tenant)}`, undefined, token);
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) {
      throw new ApiError(403, `This credential may not manage tenant "${tenant}": ${err.message}`);
    }
    throw err;
  }
  return { token, role: 'tenant', tenant };
}

function SignIn(props: { onSignedIn: (s: Session) => void; notice?: string }) {
  const [token, setToken] = useState('');
  const [tenant, setTenant] = useState('');
  const action = useAction();
  return (
    <main class="signin">
      <h1>MCP platform console</h1>
      {props.notice ? (
        <p class="notice" role="status">
          {props.notice}
        </p>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(async () => {
            const s = await signIn(token.trim(), tenant.trim());
            saveSession(s);
            props.onSignedIn(s);
          });
        }}
      >
        <Field
          label="Credential"
          name="token"
          hint="The platform admin token, or an API key or JWT with the tenant:admin scope. Kept in this tab only."
        >
          <input
            name="token"
            type="password"
            autocomplete="off"
            required
            value={token}
            onInput={(e) => setToken(e.currentTarget.value)}
          />
        </Field>
        <Field
          label="Tenant (tenant admins only)"
          name="tenant"
          hint="The slug of the tenant this key or JWT belongs to."
        >
          <input name="tenant" value={tenant} onInput={(e) => setTenant(e.currentTarget.value)} />
        </Field>
        <ErrorBox error={action.error} title="Not signed in" />
        <button type="submit" class="primary" disabled={action.busy || !token.trim()}>
          Sign in
        </button>
      </form>
    </main>
  );
}

function TenantLayout(props: { slug: string; tab: string; session: Session }) {
  const {
    data: tenant,
    error,
    loading,
    reload,
  } = useLoad(() => api<Tenant>('GET', `/admin/tenants/${enc(props.slug)}`), [props.slug]);
  const tab = TABS.find((t) => t.path === props.tab);
  return (
    <section class="tenant">
      <header class="tenant-header">
        <h2>
          {tenant ? tenant.name : props.slug} <code>{props.slug}</code>
          {tenant ? <span class={`status ${tenant.status}`}>{tenant.status}</span> : null}
        </h2>
        <nav class="tabs" aria-label="tenant">
          {TABS.map((t) => (
            <Link
              key={t.path}
              to={`/tenants/${enc(props.slug)}/${t.path}`}
              class={t.path === props.tab ? 'active' : undefined}
            >
              {t.label}
            </Link>
          ))}
        </nav>
      </header>
      <ErrorBox error={error} />
      <Loading when={loading && !tenant} />
      {tenant && tab ? (
        <tab.Page tenant={tenant} session={props.session} reloadTenant={reload} />
      ) : null}
      {!tab ? <p>No such page.</p> : null}
    </section>
  );
}

function Routes(props: { session: Session }) {
  const path = usePath();
  const { session } = props;
  const home =
    session.role === 'platform' ? '/tenants' : `/tenants/${enc(session.tenant ?? '')}/keys`;
  useEffect(() => {
    if (path === '/' || path === '') navigate(home, true);
  }, [path, home]);
  if (path === '/tenants') return <TenantsPage session={session} />;
  const t = match('/tenants/:tenant/:tab', path);
  if (t) return <TenantLayout slug={t.tenant} tab={t.tab} session={session} />;
  const bare = match('/tenants/:tenant', path);
  if (bare) {
    navigate(`/tenants/${enc(bare.tenant)}/keys`, true);
    return null;
  }
  if (path === '/' || path === '') return null;
  return (
    <p>
      Nothing here. <Link to={home}>Go back</Link>.
    </p>
  );
}

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [notice, setNotice] = useState<string>();
  useEffect(() => {
    const lost = (e: Event) => {
      setSession(null);
      setNotice(`Your session ended: ${(e as CustomEvent<string>).detail}. Sign in again.`);
    };
    window.addEventListener(SIGNED_OUT, lost);
    return () => window.removeEventListener(SIGNED_OUT, lost);
  }, []);
  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(s) => {
          setNotice(undefined);
          setSession(s);
        }}
      />
    );
  }
  return (
    <div class="layout">
      <header class="topbar">
        <Link to="/" class="brand">
          MCP platform
        </Link>
        <nav aria-label="main">
          {session.role === 'platform' ? <Link to="/tenants">Tenants</Link> : null}
          {session.role === 'tenant' && session.tenant ? (
            <Link to={`/tenants/${enc(session.tenant)}/keys`}>{session.tenant}</Link>
          ) : null}
        </nav>
        <span class="who">
          {session.role === 'platform' ? 'Platform admin' : `Tenant admin of ${session.tenant}`}
        </span>
        <button
          type="button"
          onClick={() => {
            clearSession();
            setSession(null);
            setNotice('Signed out.');
            navigate('/', true);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        <Routes session={session} />
      </main>
    </div>
  );
}
