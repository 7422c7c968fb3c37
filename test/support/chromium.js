// Where a Chromium to drive with playwright-core is, and whether the browser suites can run here.
// Plain CommonJS, because jest.config.js needs it before anything is transpiled. Never a browser
// download: Debian's `chromium` package (apt-get install chromium), or CHROMIUM_PATH.
const { existsSync } = require('node:fs');

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

function findChromium() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  return CANDIDATES.find((p) => existsSync(p));
}

/** Why the browser suites cannot run here, or undefined when they can. */
function browserUnavailableReason() {
  const path = findChromium();
  if (!path) return `no Chromium at ${CANDIDATES.join(', ')} (apt-get install chromium, or set CHROMIUM_PATH)`;
  if (!existsSync(path)) return `CHROMIUM_PATH=${path} does not exist`;
  return undefined;
}

module.exports = { findChromium, browserUnavailableReason };
