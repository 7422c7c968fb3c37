import { baseUrl, bearer, Target } from './admin';
import { http } from './http';

/** One sample line of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const raw = m[3];
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

/** The samples named `name` whose labels include every label in `labels`. */
export function samples(text: string, name: string, labels: Record<string, string> = {}): Sample[] {
  return parseMetrics(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The sum of the matching samples (0 when there are none, as for a counter never incremented). */
export const metricValue = (text: string, name: string, labels: Record<string, string> = {}) =>
  samples(text, name, labels).reduce((sum, s) => sum + s.value, 0);

/** GET /metrics (with a bearer token when given); fails unless 200. */
export async function scrape(target: Target, token?: string): Promise<string> {
  const headers = token === undefined ? {} : bearer(token);
  const res = await http(baseUrl(target), { path: '/metrics', headers });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${res.text}`);
  return res.text;
}

/** The current sum of the matching samples on a platform's /metrics. */
export const metricNow = async (
  target: Target,
  name: string,
  labels: Record<string, string> = {},
) => metricValue(await scrape(target), name, labels);
