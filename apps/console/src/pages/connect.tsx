import { useState } from 'preact/hooks';
import type { TenantPageProps } from '../app';
import { enc } from '../api';
import { Field, Snippet, useLoad } from '../components';
import { Link } from '../router';

const PLACEHOLDER = '<YOUR_API_KEY>';

/**
 * The tenant's MCP endpoint as clients must name it: the `resource` of its RFC 9728 document
 * (built from PUBLIC_URL, which may differ from the address this tab uses behind a proxy).
 */
export function useEndpoint(slug: string): string {
  const fallback = `${location.origin}/t/${enc(slug)}/mcp`;
  const { data } = useLoad(async () => {
    const res = await fetch(`/.well-known/oauth-protected-resource/t/${enc(slug)}/mcp`, {
      credentials: 'omit',
    });
    if (!res.ok) return fallback;
    const doc = (await res.json()) as { resource?: unknown };
    return typeof doc.resource === 'string' ? doc.resource : fallback;
  }, [slug]);
  return data ?? fallback;
}

/** What each client is told; `secret` is the key to paste, or a placeholder. */
export function snippets(slug: string, endpoint: string, secret: string) {
  const bearer = `Bearer ${secret}`;
  const inputId = `${slug}-api-key`;
  return [
    {
      title: 'Claude Code',
      text: `claude mcp add --transport http ${slug} ${endpoint} --header "Authorization: ${bearer}"`,
    },
    {
      title: 'mcp-remote (Claude Desktop)',
      text: JSON.stringify(
        {
          mcpServers: {
            [slug]: {
              command: 'npx',
              // No space after the colon: some clients split arguments on spaces (mcp-remote's docs).
              args: ['-y', 'mcp-remote', endpoint, '--header', 'Authorization:${AUTH_HEADER}'],
              env: { AUTH_HEADER: bearer },
            },
          },
        },
        null,
        2,
      ),
    },
    {
      title: 'VS Code (.vscode/mcp.json)',
      // The key is asked for once and kept in VS Code's secret storage, not in a file in the repo.
      text: JSON.stringify(
        {
          inputs: [
            {
              type: 'promptString',
              id: inputId,
              description: `API key for ${slug}`,
              password: true,
            },
          ],
          servers: {
            [slug]: {
              type: 'http',
              url: endpoint,
              headers: { Authorization: `Bearer \${input:${inputId}}` },
            },
          },
        },
        null,
        2,
      ),
    },
    {
      title: 'MCP Inspector (UI)',
      text: [
        'npx @modelcontextprotocol/inspector',
        '',
        '# In the page it opens:',
        '#   Transport Type: Streamable HTTP',
        `#   URL: ${endpoint}`,
        `#   Authentication → Header Name: Authorization, Bearer Token: ${secret}`,
        '#   then Connect',
      ].join('\n'),
    },
    {
      title: 'MCP Inspector (CLI)',
      text: `npx @modelcontextprotocol/inspector --cli ${endpoint} --transport http --header "Authorization: ${bearer}" --method tools/list`,
    },
  ];
}

export function ConnectSnippets(props: { slug: string; secret?: string }) {
  const endpoint = useEndpoint(props.slug);
  return (
    <div class="snippets">
      {snippets(props.slug, endpoint, props.secret ?? PLACEHOLDER).map((s) => (
        <Snippet key={s.title} title={s.title} text={s.text} />
      ))}
    </div>
  );
}

/** Copyable client configurations for the tenant's endpoint. */
export function ConnectPage(props: TenantPageProps) {
  const { slug } = props.tenant;
  const endpoint = useEndpoint(slug);
  const [secret, setSecret] = useState('');
  return (
    <section aria-labelledby="connect">
      <h3 id="connect">Connect an MCP client</h3>
      <p>
        Endpoint: <code data-testid="endpoint">{endpoint}</code> (Streamable HTTP; protocol{' '}
        {props.tenant.protocol}).
      </p>
      <p class="muted">
        A client authenticates with an API key of this tenant (create one under{' '}
        <Link to={`/tenants/${enc(slug)}/keys`}>Keys</Link>: its secret is shown once, with these
        snippets filled in) or with a token of the tenant's identity provider. Clients that sign in
        with OAuth discover the provider from{' '}
        <a href={`/.well-known/oauth-protected-resource/t/${enc(slug)}/mcp`}>
          the endpoint's metadata
        </a>
        .
      </p>
      <Field
        label="API key to fill in"
        name="secret"
        hint="Optional. Stays in this page only: never sent anywhere, gone when you leave."
      >
        <input
          name="secret"
          type="password"
          autocomplete="off"
          value={secret}
          onInput={(e) => setSecret(e.currentTarget.value.trim())}
        />
      </Field>
      <ConnectSnippets slug={slug} secret={secret || undefined} />
    </section>
  );
}
