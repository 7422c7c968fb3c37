/** Types of ./postgres-bin.js (plain CommonJS, so that jest.config.js can require it). */
export function findPostgresBinDir(): string | undefined;
export function opsUnavailableReason(): string | undefined;
export function postgresPasswdLine(): string | undefined;
export const SWITCHERS: string[];
