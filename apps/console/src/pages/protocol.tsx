import type { TenantPageProps } from '../app';

export function ProtocolPage(props: TenantPageProps) {
  return <p>{props.tenant.slug}: not built yet.</p>;
}
