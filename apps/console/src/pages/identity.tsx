import type { TenantPageProps } from '../app';

export function IdentityPage(props: TenantPageProps) {
  return <p>{props.tenant.slug}: not built yet.</p>;
}
