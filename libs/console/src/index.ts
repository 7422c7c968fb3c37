export * from './console.module';
export { CONSOLE_SECURITY_HEADERS } from './console-files';
