import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Where the console's build is: `dist/console` under the package root, found by walking up from
 * this file (the same from libs/ in tests and from dist/apps/platform/libs/ once compiled).
 */
export function consoleDirectory(from = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return join(from, 'console');
    dir = up;
  }
  return join(dir, 'dist', 'console');
}

/**
 * The headers every console response carries. Scripts, styles, images and API calls come from this
 * origin only; no inline script or style, no eval; the page cannot be framed; no referrer leaves.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

/** A console path as served: a hashed asset, some other file (none: 404), or a page of the SPA. */
export type ConsoleTarget =
  { kind: 'asset'; file: string } | { kind: 'missing' } | { kind: 'page' };

const ASSET = /^assets\/[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** `path` is the request path below `/console` (no query string). */
export function consoleTarget(path: string): ConsoleTarget {
  const rel = path.replace(/^\/console\/?/, '');
  if (ASSET.test(rel) && !rel.includes('..')) return { kind: 'asset', file: rel };
  // Anything else with a file extension names a file the build does not have.
  if (/\.[A-Za-z0-9]+$/.test(rel) || rel.startsWith('assets/')) return { kind: 'missing' };
  return { kind: 'page' };
}
