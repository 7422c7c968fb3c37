import type { TenantPageProps } from '../app';

export function AuditPage(props: TenantPageProps) {
  return <p>{props.tenant.slug}: not built yet.</p>;
}
