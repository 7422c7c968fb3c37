// Gives every app the e2e suite starts one shared log directory, scanned for secrets at the end.
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

module.exports = async function globalSetup() {
  if (!process.env.MCP_E2E_LOG_DIR) {
    process.env.MCP_E2E_LOG_DIR = mkdtempSync(join(tmpdir(), 'mcp-platform-e2e-logs-'));
  }
};
