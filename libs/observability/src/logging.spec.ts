import { loggableUrl } from './logging';

describe(loggableUrl.name, () => {
  it('keeps paths without a query as they are', () => {
    expect(loggableUrl('/t/acme/mcp')).toBe('/t/acme/mcp');
  });
  it('masks every query value, keeping the names', () => {
    const key = 'mcp_AAAAAAAAAAAA_' + 'b'.repeat(38);
    const out = loggableUrl(`/t/acme/mcp?api_key=${key}&sessionId=abc&limit=5`);
    expect(out).toBe('/t/acme/mcp?api_key=[redacted]&sessionId=[redacted]&limit=[redacted]');
    expect(out).not.toContain(key);
  });
});
