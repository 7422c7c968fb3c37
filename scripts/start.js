#!/usr/bin/env node
// `npm start`: build when the compiled app is missing or older than any source file, then run it.
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');
const { isStale } = require('./build-freshness');
const { buildConsoleIfStale } = require('./build-console');

const root = join(__dirname, '..');
const entry = join(root, 'dist/apps/platform/apps/platform/src/main.js');

const stale = isStale([entry], [join(root, 'apps/platform'), join(root, 'libs')]);
if (stale) {
  process.stderr.write('building…\n');
  const nest = join(root, 'node_modules/@nestjs/cli/bin/nest.js');
  const build = spawnSync(process.execPath, [nest, 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
buildConsoleIfStale();

// Run in this process so signals (SIGTERM from a supervisor, Ctrl-C) reach the app directly.
process.argv.splice(1, 1, entry);
require(entry);
