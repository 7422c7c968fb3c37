/** How the platform names itself to clients, in every protocol era. */
export const SERVER_INFO = { name: 'mcp-platform', version: '0.1.0' } as const;
