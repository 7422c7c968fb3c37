import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import type { TenantPageProps } from '../app';
import { api, ApiError, enc, query, type Page, unshown } from '../api';
import { toInstant } from '../forms';
import { ErrorBox, Field, Loading, Pager, Time, useCursors, useLoad } from '../components';
import type { AuditEvent, AuditHourly } from '../types';

const ACTIONS = [
  'tool.call',
  'resource.read',
  'prompt.get',
  'auth.refused',
  'key.create',
  'key.update',
  'key.rotate',
  'key.revoke',
  'tool.grant',
  'tenant.update',
  'tenant.auth',
  'source.create',
  'source.update',
  'source.refresh',
  'source.delete',
];

const WINDOWS = [
  { hours: 24, label: 'Last 24 hours' },
  { hours: 168, label: 'Last 7 days' },
];

const SERIES = ['calls', 'errors', 'denials'] as const;

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Bars per hour, three series side by side; SVG attributes only (the CSP allows no inline style). */
function Chart(props: { data: AuditHourly }) {
  const { hours } = props.data;
  const width = 960;
  const height = 180;
  const left = 36;
  const bottom = 22;
  const max = Math.max(1, ...hours.flatMap((h) => [h.calls, h.errors, h.denials]));
  const slot = (width - left) / hours.length;
  const bar = Math.max(1, (slot - 2) / 3);
  const y = (v: number) => ((height - bottom) * v) / max;
  const tickEvery = hours.length > 48 ? 24 : 3;
  const totals = SERIES.map((s) => hours.reduce((n, h) => n + h[s], 0));
  const label = `${plural(totals[0], 'call', 'calls')}, ${plural(totals[1], 'error', 'errors')}, ${plural(totals[2], 'denial', 'denials')} per hour over ${hours.length} hours`;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label} class="audit-chart">
        <line x1={left} y1={height - bottom} x2={width} y2={height - bottom} class="axis" />
        <text x={left - 6} y={10} class="tick" text-anchor="end">
          {max}
        </text>
        <text x={left - 6} y={height - bottom} class="tick" text-anchor="end">
          0
        </text>
        {hours.map((h, i) => {
          const x = left + i * slot + 1;
          const at = new Date(h.hour);
          return (
            <g key={h.hour} data-hour={h.hour}>
              {SERIES.map((s, j) =>
                h[s] > 0 ? (
                  <rect
                    key={s}
                    class={`bar ${s}`}
                    x={x + j * bar}
                    y={height - bottom - y(h[s])}
                    width={bar}
                    height={y(h[s])}
                  >
                    <title>{`${at.toLocaleString()}: ${h[s]} ${s}`}</title>
                  </rect>
                ) : null,
              )}
              {i % tickEvery === 0 ? (
                <text x={x} y={height - 6} class="tick">
                  {hours.length > 48
                    ? at.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
                    : at.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption class="legend">
        {SERIES.map((s) => (
          <span key={s} class={s}>
            {s}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

interface Filters {
  tool: string;
  keyId: string;
  outcome: string;
  action: string;
  from: string;
  to: string;
}

const FILTER_FIELDS = ['tool', 'keyId', 'outcome', 'action', 'from', 'to'];

const NO_FILTERS: Filters = { tool: '', keyId: '', outcome: '', action: '', from: '', to: '' };

function FilterForm(props: {
  applied: Filters;
  fields: Record<string, string>;
  onApply: (f: Filters) => void;
}) {
  const [f, setF] = useState<Filters>(props.applied);
  const set = (k: keyof Filters) => (e: { currentTarget: { value: string } }) =>
    setF({ ...f, [k]: e.currentTarget.value });
  return (
    <form
      class="inline filters"
      aria-label="Filters"
      onSubmit={(e) => {
        e.preventDefault();
        props.onApply({
          ...f,
          tool: f.tool.trim(),
          keyId: f.keyId.trim(),
          action: f.action.trim(),
        });
      }}
    >
      <Field label="Tool" name="tool" fields={props.fields}>
        <input name="tool" value={f.tool} onInput={set('tool')} />
      </Field>
      <Field label="Key ID" name="keyId" fields={props.fields}>
        <input name="keyId" value={f.keyId} onInput={set('keyId')} />
      </Field>
      <Field label="Outcome" name="outcome" fields={props.fields}>
        <select name="outcome" value={f.outcome} onChange={set('outcome')}>
          <option value="">any</option>
          <option value="ok">ok</option>
          <option value="error">error</option>
          <option value="denied">denied</option>
        </select>
      </Field>
      <Field label="Action" name="action" fields={props.fields}>
        <input name="action" list="audit-actions" value={f.action} onInput={set('action')} />
      </Field>
      <datalist id="audit-actions">
        {ACTIONS.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <Field label="From" name="from" fields={props.fields}>
        <input name="from" type="datetime-local" value={f.from} onInput={set('from')} />
      </Field>
      <Field label="To" name="to" fields={props.fields}>
        <input name="to" type="datetime-local" value={f.to} onInput={set('to')} />
      </Field>
      <div class="actions">
        <button type="submit" class="primary">
          Apply filters
        </button>
        <button
          type="button"
          onClick={() => {
            setF(NO_FILTERS);
            props.onApply(NO_FILTERS);
          }}
        >
          Clear filters
        </button>
      </div>
    </form>
  );
}

function Events(props: { slug: string }) {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [limit, setLimit] = useState(50);
  const pages = useCursors();
  const { cursor } = pages;
  const [open, setOpen] = useState<string | null>(null);
  const { data, error, loading } = useLoad(
    () =>
      api<Page<AuditEvent>>(
        'GET',
        `/admin/tenants/${enc(props.slug)}/audit${query({
          limit,
          cursor,
          tool: filters.tool,
          keyId: filters.keyId,
          outcome: filters.outcome,
          action: filters.action,
          from: toInstant(filters.from),
          to: toInstant(filters.to),
        })}`,
      ),
    [props.slug, filters, cursor, limit],
  );
  const fields = error instanceof ApiError ? error.fields : {};
  return (
    <section aria-labelledby="audit-events">
      <h3 id="audit-events">Events</h3>
      <FilterForm
        applied={filters}
        fields={fields}
        onApply={(f) => {
          setFilters(f);
          pages.first();
        }}
      />
      {unshown(error, FILTER_FIELDS) ? <ErrorBox error={error} /> : null}
      <Loading when={loading && !data} />
      {data && data.items.length === 0 ? <p class="muted">No events match.</p> : null}
      {data && data.items.length > 0 ? (
        <table class="events">
          <thead>
            <tr>
              <th>Time</th>
              <th>Action</th>
              <th>Tool</th>
              <th>Outcome</th>
              <th>Actor</th>
              <th>Duration</th>
              <th>Request</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((e) => (
              <Fragment key={e.id}>
                <tr data-event-id={e.id}>
                  <td>
                    <Time iso={e.at} />
                  </td>
                  <td>
                    <code>{e.action}</code>
                  </td>
                  <td>{e.tool ? <code>{e.tool}</code> : null}</td>
                  <td>
                    {e.outcome ? <span class={`outcome ${e.outcome}`}>{e.outcome}</span> : null}
                  </td>
                  <td>
                    {e.actorKind}
                    {e.keyId ? (
                      <div class="muted">
                        key <code>{e.keyId}</code>
                      </div>
                    ) : e.actorId ? (
                      <div class="muted">
                        <code>{e.actorId}</code>
                      </div>
                    ) : null}
                  </td>
                  <td>{e.durationMs !== null ? `${e.durationMs} ms` : null}</td>
                  <td>
                    {e.requestId ? <code class="request-id">{e.requestId}</code> : null}
                    {Object.keys(e.detail).length ? (
                      <button
                        type="button"
                        class="link"
                        aria-expanded={open === e.id}
                        onClick={() => setOpen(open === e.id ? null : e.id)}
                      >
                        {open === e.id ? 'Hide detail' : 'Detail'}
                      </button>
                    ) : null}
                  </td>
                </tr>
                {open === e.id ? (
                  <tr class="detail">
                    <td colSpan={7}>
                      <pre>{JSON.stringify(e.detail, null, 2)}</pre>
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="actions">
        <Field label="Per page" name="limit">
          <select
            name="limit"
            value={String(limit)}
            onChange={(e) => {
              setLimit(Number(e.currentTarget.value));
              pages.first();
            }}
          >
            {[10, 50, 200].map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Pager
        nextCursor={data?.nextCursor}
        atStart={pages.atStart}
        onNext={() => pages.next(data?.nextCursor)}
        onFirst={pages.first}
      />
    </section>
  );
}

/** Calls, errors and denials per hour, then the events themselves, newest first. */
export function AuditPage(props: TenantPageProps) {
  const { slug } = props.tenant;
  const [hours, setHours] = useState(24);
  const { data, error, loading, reload } = useLoad(
    () => api<AuditHourly>('GET', `/admin/tenants/${enc(slug)}/audit/hourly${query({ hours })}`),
    [slug, hours],
  );
  const totals = data ? SERIES.map((s) => data.hours.reduce((n, h) => n + h[s], 0)) : null;
  return (
    <>
      <section aria-labelledby="audit-chart">
        <h3 id="audit-chart">Activity</h3>
        <form class="inline" onSubmit={(e) => e.preventDefault()}>
          <Field label="Window" name="hours">
            <select
              name="hours"
              value={String(hours)}
              onChange={(e) => setHours(Number(e.currentTarget.value))}
            >
              {WINDOWS.map((w) => (
                <option key={w.hours} value={String(w.hours)}>
                  {w.label}
                </option>
              ))}
            </select>
          </Field>
          <button type="button" onClick={reload}>
            Refresh
          </button>
        </form>
        <ErrorBox error={error} />
        <Loading when={loading && !data} />
        {totals ? (
          <p data-testid="audit-totals">
            {plural(totals[0], 'call', 'calls')}, {plural(totals[1], 'error', 'errors')},{' '}
            {plural(totals[2], 'denial', 'denials')}
          </p>
        ) : null}
        {data ? <Chart data={data} /> : null}
      </section>
      <Events slug={slug} />
    </>
  );
}
