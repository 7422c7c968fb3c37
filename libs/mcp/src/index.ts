export * from './mcp-server.factory';
export * from './mcp.module';
export * from './session-store';
export { ModernStrategy } from './eras/modern.strategy';
export type { McpEra } from './tool-call-recorder';
