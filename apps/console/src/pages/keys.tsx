import type { TenantPageProps } from '../app';

export function KeysPage(props: TenantPageProps) {
  return <p>{props.tenant.slug}: not built yet.</p>;
}
