import { isRecord } from './document';
import { OpenApiRequestError } from './errors';
import { bodyEncoding } from './media-types';
import {
  RESERVED_HEADER_PARAMETERS,
  type OpenApiOperationTool,
  type OpenApiToolParameter,
} from './operation-tools';

export interface OutboundRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

/** A dot segment, as the URL parser sees it (`%2e` counts as a dot). */
const DOT_SEGMENT = /^(\.|%2e){1,2}$/i;

/**
 * The HTTP request for a call whose arguments already passed the tool's input schema. Values are
 * percent-encoded into their own path segment or query field, so no argument can leave the
 * base URL's origin or path prefix; a value that would still (`..`) is refused.
 */
export function buildRequest(
  tool: OpenApiOperationTool,
  baseUrl: string,
  args: Record<string, unknown>,
): OutboundRequest {
  const base = new URL(baseUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new OpenApiRequestError(`base URL ${base.protocol} is not http(s)`);
  }
  const prefix = base.pathname.replace(/\/+$/, '');
  const byName = new Map(tool.parameters.filter((p) => p.in === 'path').map((p) => [p.name, p]));
  const rendered = tool.path.replace(/\{([^}]+)\}/g, (_whole, name: string) => {
    const p = byName.get(name);
    const value = p ? args[p.arg] : undefined;
    if (value === undefined || value === null)
      throw new OpenApiRequestError(`path parameter ${name} is missing`);
    const text = pathValue(p as OpenApiToolParameter, value);
    if (text === '') throw new OpenApiRequestError(`path parameter ${name} is empty`);
    return text;
  });
  const segments = rendered.split('/');
  if (segments.some((s) => DOT_SEGMENT.test(s))) {
    throw new OpenApiRequestError(`path ${rendered} has a "." or ".." segment`);
  }
  const url = new URL(base.href);
  url.hash = '';
  url.pathname = prefix + (rendered.startsWith('/') ? rendered : `/${rendered}`);
  if (
    url.origin !== base.origin ||
    (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`))
  ) {
    throw new OpenApiRequestError(`path ${rendered} leaves the base URL`);
  }

  const headers: Record<string, string> = { accept: 'application/json, */*;q=0.5' };
  const cookies: string[] = [];
  for (const p of tool.parameters) {
    const value = args[p.arg];
    if (value === undefined || value === null) continue;
    switch (p.in) {
      case 'path':
        break;
      case 'query':
        for (const [k, v] of queryPairs(p, value)) url.searchParams.append(k, v);
        break;
      case 'header': {
        const name = p.name.toLowerCase();
        if (RESERVED_HEADER_PARAMETERS.has(name)) break;
        headers[name] = headerValue(
          p,
          simple(p, value, (s) => s),
        );
        break;
      }
      case 'cookie':
        cookies.push(
          `${p.name}=${encodeURIComponent(p.mediaType ? JSON.stringify(value) : flat(value))}`,
        );
        break;
    }
  }
  if (cookies.length) headers.cookie = headerValue(undefined, cookies.join('; '));

  const request: OutboundRequest = { method: tool.method, url, headers };
  const value = tool.body ? args[tool.body.arg] : undefined;
  if (tool.body && value !== undefined) {
    headers['content-type'] = tool.body.mediaType;
    request.body =
      bodyEncoding(tool.body.mediaType) === 'form' ? formBody(value) : JSON.stringify(value);
  }
  return request;
}

/** A scalar as text; nested structures (not described by the parameter's style) as JSON. */
function flat(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

function simple(
  p: OpenApiToolParameter,
  value: unknown,
  encode: (s: string) => string,
  separator = ',',
): string {
  if (p.mediaType) return encode(JSON.stringify(value));
  if (Array.isArray(value)) return value.map((v) => encode(flat(v))).join(separator);
  if (isRecord(value)) {
    const pairs = Object.entries(value).filter(([, v]) => v !== undefined);
    return p.explode
      ? pairs.map(([k, v]) => `${encode(k)}=${encode(flat(v))}`).join(separator)
      : pairs.flatMap(([k, v]) => [encode(k), encode(flat(v))]).join(',');
  }
  return encode(flat(value));
}

function pathValue(p: OpenApiToolParameter, value: unknown): string {
  const encode = encodeURIComponent;
  if (p.style === 'label') return `.${simple(p, value, encode, p.explode ? '.' : ',')}`;
  if (p.style !== 'matrix') return simple(p, value, encode);
  const name = encode(p.name);
  if (Array.isArray(value) && p.explode && !p.mediaType) {
    return value.map((v) => `;${name}=${encode(flat(v))}`).join('');
  }
  if (isRecord(value) && p.explode && !p.mediaType) return `;${simple(p, value, encode, ';')}`;
  return `;${name}=${simple(p, value, encode)}`;
}

function queryPairs(p: OpenApiToolParameter, value: unknown): [string, string][] {
  if (p.mediaType) return [[p.name, JSON.stringify(value)]];
  const style = p.style ?? 'form';
  const explode = p.explode ?? style === 'form';
  if (Array.isArray(value)) {
    const items = value.filter((v) => v !== undefined && v !== null).map(flat);
    if (explode) return items.map((v) => [p.name, v]);
    const separator = style === 'spaceDelimited' ? ' ' : style === 'pipeDelimited' ? '|' : ',';
    return [[p.name, items.join(separator)]];
  }
  if (isRecord(value)) {
    const pairs = Object.entries(value).filter(([, v]) => v !== undefined && v !== null);
    if (style === 'deepObject') return pairs.map(([k, v]) => [`${p.name}[${k}]`, flat(v)]);
    if (explode) return pairs.map(([k, v]) => [k, flat(v)]);
    return [[p.name, pairs.flatMap(([k, v]) => [k, flat(v)]).join(',')]];
  }
  return [[p.name, flat(value)]];
}

function headerValue(p: OpenApiToolParameter | undefined, value: string): string {
  // eslint-disable-next-line no-control-regex -- the control characters are what is refused
  if (/[\r\n\0]|[^\u0000-\u00ff]/.test(value)) {
    throw new OpenApiRequestError(
      `${p ? `header parameter ${p.name}` : 'cookie'} cannot be sent: it has a line break, NUL or a character beyond Latin-1`,
    );
  }
  return value;
}

function formBody(value: unknown): string {
  if (!isRecord(value)) throw new OpenApiRequestError('a form body must be an object');
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const item of v) form.append(k, flat(item));
    else form.append(k, flat(v));
  }
  return form.toString();
}
