/**
 * The public URL layout of a tenant's MCP endpoints, `/t/<slug>/mcp` (and the legacy `/sse` and
 * `/messages`): written once, here, because clients are configured with these URLs and every
 * layer (routing, challenges, logs, shutdown) has to agree on them.
 */
const PREFIX = 't';
export const TENANT_ROUTE = `${PREFIX}/:tenant`;

export type TenantEndpoint = 'mcp' | 'sse' | 'messages';

export function tenantPath(slug: string, endpoint: TenantEndpoint): string {
  return `/${PREFIX}/${encodeURIComponent(slug)}/${endpoint}`;
}

const TENANT_PATH = new RegExp(`^/${PREFIX}/[^/?]+/(mcp|sse|messages)(?:[/?]|$)`);

/** Which tenant endpoint a request URL names, if any. */
export function tenantEndpointOf(url: string | undefined): TenantEndpoint | undefined {
  return url ? (TENANT_PATH.exec(url)?.[1] as TenantEndpoint | undefined) : undefined;
}
