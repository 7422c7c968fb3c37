import { useState } from 'preact/hooks';
import type { TenantPageProps } from '../app';
import { api, enc, unshown } from '../api';
import { splitList } from '../forms';
import { ErrorBox, Field, useAction } from '../components';
import type { Protocol, Tenant } from '../types';
import { useEndpoint } from './connect';

const POSTURES: { value: Protocol; label: string; admits: string }[] = [
  {
    value: 'dual',
    label: 'dual (default)',
    admits:
      'Both eras: 2026-07-28 clients (no session) and 2025 clients (initialize, sessions, legacy SSE).',
  },
  {
    value: 'modern-only',
    label: 'modern-only',
    admits:
      'Only 2026-07-28. A 2025 initialize is refused with -32022 naming 2026-07-28; the SSE transport is 405.',
  },
  {
    value: 'legacy-only',
    label: 'legacy-only',
    admits:
      'Only the 2025 revisions and the legacy HTTP+SSE transport; 2026-07-28 probes fall back to initialize.',
  },
];

const LIMITS = [
  { key: 'keyPerMinute', label: 'Requests per key per minute' },
  { key: 'tenantPerMinute', label: 'Requests per tenant per minute' },
  { key: 'keyConcurrency', label: 'Requests in flight per key' },
  { key: 'tenantConcurrency', label: 'Requests in flight per tenant' },
] as const;

type LimitKey = (typeof LIMITS)[number]['key'];

const originsText = (t: Tenant) => t.allowedOrigins.join('\n');
const limitsText = (t: Tenant) =>
  Object.fromEntries(
    LIMITS.map((l) => [
      l.key,
      t.rateLimits[l.key] === undefined ? '' : String(t.rateLimits[l.key]),
    ]),
  ) as Record<LimitKey, string>;

/** Which eras the endpoint serves, which browser origins may call it, and its rate limits. */
export function ProtocolPage(props: TenantPageProps) {
  const { tenant } = props;
  const endpoint = useEndpoint(tenant.slug);
  const editable = props.session.role === 'platform';
  const [protocol, setProtocol] = useState<Protocol>(tenant.protocol);
  const [origins, setOrigins] = useState(originsText(tenant));
  const [limits, setLimits] = useState(limitsText(tenant));
  const [saved, setSaved] = useState(false);
  const action = useAction();

  const changes = () => {
    const body: Record<string, unknown> = {};
    if (protocol !== tenant.protocol) body.protocol = protocol;
    const list = splitList(origins);
    if (list.join('\n') !== originsText(tenant)) body.allowedOrigins = list;
    const before = limitsText(tenant);
    const rateLimits: Record<string, number> = {};
    for (const l of LIMITS) {
      if (limits[l.key] !== before[l.key] && limits[l.key] !== '') {
        rateLimits[l.key] = Number(limits[l.key]);
      }
    }
    if (Object.keys(rateLimits).length) body.rateLimits = rateLimits;
    return body;
  };
  const chosen = POSTURES.find((p) => p.value === protocol);

  return (
    <section aria-labelledby="protocol">
      <h3 id="protocol">Protocol and access</h3>
      <p>
        Endpoint <code>{endpoint}</code>, serving{' '}
        {tenant.protocol === 'modern-only'
          ? 'MCP 2026-07-28'
          : tenant.protocol === 'legacy-only'
            ? 'MCP 2025-03-26 to 2025-11-25 and the legacy HTTP+SSE transport'
            : 'MCP 2026-07-28 and 2025-03-26 to 2025-11-25 (and the legacy HTTP+SSE transport)'}
        .
      </p>
      {!editable ? (
        <p class="notice" role="note">
          These settings are the platform operator’s: a platform admin changes them. They are shown
          here read-only.
        </p>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setSaved(false);
          const body = changes();
          if (Object.keys(body).length === 0) return;
          void action
            .run(() => api<Tenant>('PATCH', `/admin/tenants/${enc(tenant.slug)}`, body))
            .then((t) => {
              if (!t) return;
              setSaved(true);
              props.reloadTenant();
            });
        }}
      >
        <Field
          label="Protocol posture"
          name="protocol"
          fields={action.fields}
          hint={chosen?.admits}
        >
          <select
            name="protocol"
            disabled={!editable}
            value={protocol}
            onChange={(e) => setProtocol(e.currentTarget.value as Protocol)}
          >
            {POSTURES.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </select>
        </Field>
        <Field
          label="Allowed origins"
          name="allowedOrigins"
          fields={action.fields}
          hint="Browser origins (scheme://host[:port]) that may call the endpoint, one per line; besides the platform-wide ALLOWED_ORIGINS. Requests without an Origin header (desktop clients) are not affected."
        >
          <textarea
            name="allowedOrigins"
            disabled={!editable}
            value={origins}
            onInput={(e) => setOrigins(e.currentTarget.value)}
          />
        </Field>
        <fieldset>
          <legend>Rate limits</legend>
          <p class="hint">
            Empty: the platform’s default (RATE_LIMIT_*_PER_MINUTE, MAX_INFLIGHT_PER_*); 0 turns a
            limit off. A limit once set can be changed but not handed back to the default: emptying
            its field changes nothing.
          </p>
          <div class="form-row">
            {LIMITS.map((l) => (
              <Field
                key={l.key}
                label={l.label}
                name={`rateLimits.${l.key}`}
                fields={action.fields}
              >
                <input
                  name={l.key}
                  type="number"
                  min={0}
                  disabled={!editable}
                  value={limits[l.key]}
                  onInput={(e) => setLimits({ ...limits, [l.key]: e.currentTarget.value })}
                />
              </Field>
            ))}
          </div>
        </fieldset>
        {unshown(action.error, ['protocol', 'allowedOrigins', 'rateLimits']) ? (
          <ErrorBox error={action.error} />
        ) : null}
        {saved ? (
          <p class="success" role="status">
            Saved. The endpoint applies it from its next request.
          </p>
        ) : null}
        {editable ? (
          <div class="actions">
            <button type="submit" class="primary" disabled={action.busy}>
              Save protocol settings
            </button>
          </div>
        ) : null}
      </form>
    </section>
  );
}
