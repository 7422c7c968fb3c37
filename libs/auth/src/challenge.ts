import { tenantPath } from '@app/config';

/** Where RFC 9728 puts the metadata of a resource: below this prefix, at the resource's path. */
export const RESOURCE_METADATA_PREFIX = '.well-known/oauth-protected-resource';

/** RFC 9728 metadata URL for a tenant's MCP resource. */
export function resourceMetadataUrl(publicUrl: string, slug: string): string {
  return `${publicUrl}/${RESOURCE_METADATA_PREFIX}${tenantPath(slug, 'mcp')}`;
}

/** The MCP resource identifier (RFC 8707 audience) of a tenant. */
export function resourceUrl(publicUrl: string, slug: string): string {
  return `${publicUrl}${tenantPath(slug, 'mcp')}`;
}

const quote = (v: string) => `"${v.replace(/["\\]/g, '')}"`;

export function bearerChallenge(params: Record<string, string | undefined>): string {
  const parts = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${quote(v)}`);
  return parts.length ? `Bearer ${parts.join(', ')}` : 'Bearer';
}
