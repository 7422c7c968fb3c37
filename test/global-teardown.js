// Fails the run if any log line of any app started by the e2e suite holds a secret: an API key,
// a generated or configured admin token, or a JWT.
const { readdirSync, readFileSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const SECRETS = [
  ['API key', /mcp_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}/],
  ['generated admin token', /mcpadm_[A-Za-z0-9_-]{20,}/],
  ['test admin token', /test-admin-token-0123456789abcdefghijkl/],
  // The tool-source suites give upstream credentials this shape, so a leak of one is found.
  ['tool source secret', /upstream-secret-[0-9a-f]{8,}/],
  ['JWT', /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/],
];

module.exports = async function globalTeardown() {
  const dir = process.env.MCP_E2E_LOG_DIR;
  if (!dir) return;
  const files = readdirSync(dir).filter((f) => f.endsWith('.log'));
  let lines = 0;
  const leaks = [];
  for (const file of files) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (!line) continue;
      lines += 1;
      for (const [what, pattern] of SECRETS) {
        if (pattern.test(line)) leaks.push(`${file}: ${what} in ${line.slice(0, 300)}`);
      }
    }
  }
  if (leaks.length) {
    throw new Error(`secrets found in logs (kept in ${dir}):\n${leaks.slice(0, 20).join('\n')}`);
  }
  process.stdout.write(`log scan: ${lines} lines in ${files.length} files, no secrets\n`);
  rmSync(dir, { recursive: true, force: true });
};
