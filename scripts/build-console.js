#!/usr/bin/env node
// Builds the web console (apps/console, Vite) into dist/console when the build is missing or older
// than its sources. `npm start` and `npm test` call it; `npm run build` always builds.
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');
const { isStale } = require('./build-freshness');

const root = join(__dirname, '..');
const CONSOLE_SOURCES = join(root, 'apps/console');
const CONSOLE_ENTRY = join(root, 'dist/console/index.html');
const EXTENSIONS = ['.ts', '.tsx', '.mts', '.css', '.html', '.svg'];

function buildConsoleIfStale() {
  if (!isStale([CONSOLE_ENTRY], [CONSOLE_SOURCES], EXTENSIONS)) return;
  process.stderr.write('building the console…\n');
  const vite = join(root, 'node_modules/vite/bin/vite.js');
  const args = [vite, 'build', '--config', join(CONSOLE_SOURCES, 'vite.config.mts'), '--logLevel', 'warn'];
  const build = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) {
    process.stderr.write('the console build failed\n');
    process.exit(build.status ?? 1);
  }
}

module.exports = { buildConsoleIfStale };

if (require.main === module) buildConsoleIfStale();
