// The admin API's answers as the console reads them (see /docs-json for the full document).

export type Protocol = 'dual' | 'modern-only' | 'legacy-only';

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  status: 'active' | 'suspended';
  allowedOrigins: string[];
  rateLimits: {
    keyPerMinute?: number;
    tenantPerMinute?: number;
    keyConcurrency?: number;
    tenantConcurrency?: number;
  };
  protocol: Protocol;
  createdAt: string;
  updatedAt: string;
}

export interface ApiKey {
  id: string;
  tenant: string;
  name: string;
  prefix: string;
  scopes: string[];
  tools: string[] | null;
  resources: string[] | null;
  prompts: string[] | null;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  rotatedAt: string | null;
  rateLimitPerMinute: number | null;
  previousSecretValidUntil: string | null;
  createdAt: string;
}

export interface IssuedApiKey extends ApiKey {
  secret: string;
}

export interface Tool {
  name: string;
  title: string | null;
  description: string;
  requiredScopes: string[];
  enabled: boolean;
  source: string | null;
}

export interface Resource {
  name: string;
  kind: 'resource' | 'template';
  uri: string | null;
  uriTemplate: string | null;
  title: string | null;
  description: string | null;
  mimeType: string | null;
  requiredScopes: string[];
  enabled: boolean;
}

export interface Prompt {
  name: string;
  title: string | null;
  description: string | null;
  arguments: { name: string; description: string | null; required: boolean }[];
  requiredScopes: string[];
  enabled: boolean;
}

export interface TenantAuth {
  jwt?: {
    issuer: string;
    jwksUri?: string;
    audience?: string;
    scopesClaim?: string;
    algorithms?: string[];
  };
  introspection?: {
    endpoint: string;
    clientId: string;
    clientSecretSet: boolean;
    audience?: string;
    scopesClaim?: string;
  };
  external?: { url: string; headers: string[]; timeoutMs?: number; cacheSeconds?: number };
}

export type AuditOutcome = 'ok' | 'error' | 'denied';

export interface AuditEvent {
  id: string;
  at: string;
  actorKind: string;
  actorId: string;
  action: string;
  tool: string | null;
  keyId: string | null;
  outcome: AuditOutcome | null;
  durationMs: number | null;
  requestId: string | null;
  detail: Record<string, unknown>;
}

export interface AuditHourly {
  from: string;
  to: string;
  hours: { hour: string; calls: number; errors: number; denials: number }[];
}
