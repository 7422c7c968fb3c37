import { ConfigError, loadConfig } from './platform-config';

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
    try {
      loadConfig({
        PORT: 'abc',
        ADMIN_TOKEN: 'short',
        DATABASE_URL: 'mysql://x',
        MCP_STATELESS: 'maybe',
      });
      fail('expected a ConfigError');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const problems = (e as ConfigError).problems;
      expect(problems).toHaveLength(4);
      expect(problems.join('\n')).toMatch(/PORT/);
      expect(problems.join('\n')).toMatch(/ADMIN_TOKEN: must be at least 32 characters/);
      expect(problems.join('\n')).toMatch(/DATABASE_URL: expected a postgres: or postgresql: URL/);
      expect(problems.join('\n')).toMatch(/MCP_STATELESS/);
    }
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
    try {
      loadConfig({ ADMIN_TOKEN: 'hunter2-secret' });
      fail('expected a ConfigError');
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});
