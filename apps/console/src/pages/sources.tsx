import type { TenantPageProps } from '../app';

export function SourcesPage(props: TenantPageProps) {
  return <p>{props.tenant.slug}: not built yet.</p>;
}
