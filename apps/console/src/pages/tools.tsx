import type { TenantPageProps } from '../app';

export function ToolsPage(props: TenantPageProps) {
  return <p>{props.tenant.slug}: not built yet.</p>;
}
