import autocannon from 'autocannon';
import { lifecycle } from './lifecycle';
import { ADD_MARKER, MCP_HEADERS, MODERN_META, type Headers } from './mcp-client';

function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    lifecycle.activeCannon = autocannon(opts, (err: unknown, result) => {
      lifecycle.activeCannon = undefined;
      if (lifecycle.interrupted) reject(new Error('interrupted'));
      else if (err) reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
      else resolve(result);
    });
  });
}

export interface LoadSpec {
  url: string;
  headers?: Headers;
  body: string;
  duration: number;
  /** As autocannon's `requests`: e.g. a headers override per request, cycled. */
  requests?: autocannon.Request[];
  /** Whether a 2xx response body is the right answer. */
  check: (body: string) => boolean;
  connections: number;
  /** Requests per second over all connections; as fast as possible when unset. */
  overallRate?: number;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  meanLatency: number;
  maxLatency: number;
  requests: number;
  ok: number;
  errors: number;
  socketErrors: number;
  timeouts: number;
  non2xx: number;
  wrongBodies: number;
  seconds: number;
  non2xxSample?: string;
  wrongBodySample?: string;
}

/**
 * Drives POST `url` for `duration` seconds with `connections` connections. Every request gets a
 * unique JSON-RPC id ("[<id>]" in the body). Non-2xx, socket errors, timeouts and 2xx responses
 * whose body fails `check` all count as errors.
 */
export async function load(spec: LoadSpec): Promise<LoadResult> {
  let wrongBodies = 0;
  let wrongSample: string | undefined;
  let non2xxSample: string | undefined;
  const onResponse = (status: number, resBody: string) => {
    if (status >= 200 && status < 300) {
      if (!spec.check(resBody)) {
        wrongBodies++;
        wrongSample ??= String(resBody).slice(0, 300);
      }
    } else {
      non2xxSample ??= `${status} ${String(resBody).slice(0, 300)}`;
    }
  };
  const requests = (spec.requests ?? [{}]).map((r) => ({ ...r, onResponse }));
  const r = await cannon({
    url: spec.url,
    method: 'POST',
    headers: { ...MCP_HEADERS, ...spec.headers },
    body: spec.body,
    idReplacement: true,
    requests,
    connections: spec.connections,
    duration: spec.duration,
    timeout: 10,
    ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
  });
  const ok = (r['2xx'] || 0) - wrongBodies;
  const errors = (r.errors || 0) + (r.non2xx || 0) + wrongBodies;
  return {
    rps: ok / r.duration,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    meanLatency: r.latency.average,
    maxLatency: r.latency.max,
    requests: r.requests.total,
    ok,
    errors,
    socketErrors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    wrongBodies,
    seconds: r.duration,
    ...(non2xxSample ? { non2xxSample } : {}),
    ...(wrongSample ? { wrongBodySample: wrongSample } : {}),
  };
}

/** The first error of a run, for the log. */
export const firstError = (r: LoadResult) =>
  r.non2xxSample || r.wrongBodySample || `${r.socketErrors} socket errors / ${r.timeouts} timeouts`;

export const ADD_BODY =
  '{"jsonrpc":"2.0","id":"[<id>]","method":"tools/call","params":{"name":"add","arguments":{"a":40,"b":2}}}';
export const LIST_BODY = '{"jsonrpc":"2.0","id":"[<id>]","method":"tools/list","params":{}}';
export const isAdd42 = (b: string) => typeof b === 'string' && b.includes(ADD_MARKER);
export const isToolList = (b: string) =>
  typeof b === 'string' && b.includes('"tools":[') && b.includes('"name":"add"');

/** `add(40, 2)` in the modern era (2026-07-28): the same call with the `_meta` envelope. */
export const MODERN_ADD_BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: '[<id>]',
  method: 'tools/call',
  params: { name: 'add', arguments: { a: 40, b: 2 }, _meta: MODERN_META },
});
/** A complete modern result of 42: the reference's text "42" or the platform's `{result: 42}`. */
export const isModernAdd42 = (b: string) =>
  typeof b === 'string' &&
  b.includes('"resultType":"complete"') &&
  (b.includes('"text":"42"') || b.includes(ADD_MARKER));
