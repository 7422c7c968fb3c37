import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONSOLE_SECURITY_HEADERS, consoleDirectory, consoleTarget } from './console-files';

describe('consoleTarget', () => {
  it.each([
    ['/console', { kind: 'page' }],
    ['/console/', { kind: 'page' }],
    ['/console/tenants/acme/keys', { kind: 'page' }],
    ['/console/assets/index-AbC_1.js', { kind: 'asset', file: 'assets/index-AbC_1.js' }],
    ['/console/assets/index-AbC_1.css', { kind: 'asset', file: 'assets/index-AbC_1.css' }],
  ])('%s → %j', (path, target) => {
    expect(consoleTarget(path)).toEqual(target);
  });

  it.each([
    '/console/favicon.ico',
    '/console/assets/',
    '/console/assets/../../package.json',
    '/console/assets/..',
    '/console/assets/sub/dir.js',
    '/console/assets/.env',
    '/console/index.html.bak',
  ])('%s is a missing file, never a file outside the build nor the page', (path) => {
    expect(consoleTarget(path)).toEqual({ kind: 'missing' });
  });
});

describe('consoleDirectory', () => {
  it('is dist/console under the nearest directory holding a package.json', () => {
    const root = mkdtempSync(join(tmpdir(), 'console-root-'));
    writeFileSync(join(root, 'package.json'), '{}');
    const deep = join(root, 'dist', 'apps', 'platform', 'libs', 'console', 'src');
    mkdirSync(deep, { recursive: true });
    expect(consoleDirectory(deep)).toBe(join(root, 'dist', 'console'));
  });
});

describe('CONSOLE_SECURITY_HEADERS', () => {
  it('allow nothing inline, nothing from elsewhere, and no framing', () => {
    const csp = CONSOLE_SECURITY_HEADERS['Content-Security-Policy'];
    expect(csp).not.toMatch(/unsafe-|\*|https?:/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(CONSOLE_SECURITY_HEADERS['X-Frame-Options']).toBe('DENY');
  });
});
