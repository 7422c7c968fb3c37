import type { Session } from '../session';

export function TenantsPage(_props: { session: Session }) {
  return <p>Tenants: not built yet.</p>;
}
