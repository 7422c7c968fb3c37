export * from './config.module';
export * from './platform-config';
export { envSchema, isCidr } from './config.schema';
export * from './routes';
export * from './long-lived';
