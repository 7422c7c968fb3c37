// Whether a compiled entry is older than the TypeScript it is built from: shared by `npm start`,
// the bench and the multi-process test harness, which all build only when they must.
const { existsSync, readdirSync, statSync } = require('node:fs');

function newestSource(dir, extensions) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${entry.name}`;
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p, extensions));
    else if (extensions.some((x) => entry.name.endsWith(x))) {
      newest = Math.max(newest, statSync(p).mtimeMs);
    }
  }
  return newest;
}

/**
 * True when any of `entries` is missing or older than a source file (one ending in one of
 * `extensions`) below one of `sourceDirs`.
 */
function isStale(entries, sourceDirs, extensions = ['.ts']) {
  if (!entries.every((e) => existsSync(e))) return true;
  const built = Math.min(...entries.map((e) => statSync(e).mtimeMs));
  return Math.max(...sourceDirs.map((d) => newestSource(d, extensions))) > built;
}

module.exports = { isStale };
