import { tenantEndpointOf, tenantPath } from './routes';

describe('tenant routes', () => {
  it('builds the path of each tenant endpoint, escaping the slug', () => {
    expect(tenantPath('acme', 'mcp')).toBe('/t/acme/mcp');
    expect(tenantPath('acme', 'messages')).toBe('/t/acme/messages');
    expect(tenantPath('a/b', 'sse')).toBe('/t/a%2Fb/sse');
  });

  it.each([
    ['/t/acme/mcp', 'mcp'],
    ['/t/acme/mcp?x=1', 'mcp'],
    ['/t/acme/sse', 'sse'],
    ['/t/acme/messages?sessionId=abc', 'messages'],
    ['/admin/t/acme/mcp', undefined],
    ['/t/acme/mcpx', undefined],
    ['/t/acme', undefined],
    ['/.well-known/oauth-protected-resource/t/acme/mcp', undefined],
    [undefined, undefined],
  ])('tells which endpoint %s names: %s', (url, endpoint) => {
    expect(tenantEndpointOf(url)).toBe(endpoint);
  });
});
