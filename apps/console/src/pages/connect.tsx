import type { TenantPageProps } from '../app';

export function ConnectPage(props: TenantPageProps) {
  return <p>{props.tenant.slug}: not built yet.</p>;
}
