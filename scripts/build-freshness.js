// Whether a compiled entry is older than the TypeScript it is built from: shared by `npm start`,
// the bench and the multi-process test harness, which all build only when they must.
const { existsSync, readdirSync, statSync } = require('node:fs');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${entry.name}`;
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** True when any of `entries` is missing or older than a `.ts` file below one of `sourceDirs`. */
function isStale(entries, sourceDirs) {
  if (!entries.every((e) => existsSync(e))) return true;
  const built = Math.min(...entries.map((e) => statSync(e).mtimeMs));
  return Math.max(...sourceDirs.map(newestSource)) > built;
}

module.exports = { isStale };
