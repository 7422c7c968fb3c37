import { ConfigError, loadConfig } from './platform-config';

/** The ConfigError `load` throws; fails the test when it throws nothing or something else. */
function configErrorOf(load: () => unknown): ConfigError {
  let thrown: unknown;
  try {
    load();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  return thrown as ConfigError;
}

describe(loadConfig.name, () => {
  it('applies the documented defaults', () => {
    const sut = loadConfig({});
    expect(sut).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      publicUrl: 'http://127.0.0.1:3000',
      dataDir: './.data',
      mcpStateless: false,
      logLevel: 'info',
      sessionIdleTtlMs: 900_000,
    });
    expect(sut.databaseUrl).toBeUndefined();
  });

  it('derives a usable PUBLIC_URL when bound to all interfaces', () => {
    expect(loadConfig({ HOST: '0.0.0.0', PORT: '8080' }).publicUrl).toBe('http://localhost:8080');
  });

  it('reports one line per bad value', () => {
    const { problems } = configErrorOf(() =>
      loadConfig({
        PORT: 'abc',
        ADMIN_TOKEN: 'short',
        DATABASE_URL: 'mysql://x',
        MCP_STATELESS: 'maybe',
      }),
    );
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/PORT/);
    expect(problems.join('\n')).toMatch(/ADMIN_TOKEN: must be at least 32 characters/);
    expect(problems.join('\n')).toMatch(/DATABASE_URL: expected a postgres: or postgresql: URL/);
    expect(problems.join('\n')).toMatch(/MCP_STATELESS/);
  });

  it('applies the documented limits, and refuses header timeouts longer than request timeouts', () => {
    expect(loadConfig({})).toMatchObject({
      maxInFlightPerTenant: 64,
      maxInFlightPerKey: 32,
      authFailuresPerMinute: 30,
      adminAuthFailuresPerMinute: 10,
      toolArgumentLimits: { maxBytes: 256 * 1024, maxElements: 10_000, maxDepth: 32 },
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      databaseQueryTimeoutMs: 5_000,
    });
    const { problems } = configErrorOf(() =>
      loadConfig({ HEADERS_TIMEOUT: '40', REQUEST_TIMEOUT: '30' }),
    );
    expect(problems).toEqual([expect.stringMatching(/^HEADERS_TIMEOUT: must not exceed/)]);
    expect(() => loadConfig({ MAX_ARGUMENT_DEPTH: '65' })).toThrow(/MAX_ARGUMENT_DEPTH/);
  });

  it('refuses an ADMIN_TOKEN shaped like an API key or a JWT', () => {
    expect(() => loadConfig({ ADMIN_TOKEN: 'mcp_' + 'a'.repeat(40) })).toThrow(
      /ADMIN_TOKEN: must not start with mcp_/,
    );
    expect(() => loadConfig({ ADMIN_TOKEN: 'header.payload.signature-long-enough-1234' })).toThrow(
      ConfigError,
    );
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', ADMIN_TOKEN: '' }).adminToken).toBeUndefined();
  });

  it('never echoes the rejected value of a secret', () => {
    const error = configErrorOf(() => loadConfig({ ADMIN_TOKEN: 'hunter2-secret' }));
    expect(error.message).toMatch(/ADMIN_TOKEN/);
    expect(error.message).not.toContain('hunter2');
  });
});
