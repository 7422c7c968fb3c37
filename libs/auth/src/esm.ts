import type * as Jose from 'jose' with { 'resolution-mode': 'import' };
import type * as Oauth from 'oauth4webapi' with { 'resolution-mode': 'import' };

/*
 * jose and oauth4webapi ship as ES modules only. This project compiles to CommonJS, where a
 * dynamic import() loads them (on Node 20 and 22, and under Jest's VM modules) while a static
 * import would become a require().
 */
let jose: Promise<typeof Jose> | undefined;
let oauth: Promise<typeof Oauth> | undefined;

export const loadJose = (): Promise<typeof Jose> => (jose ??= import('jose'));
export const loadOauth = (): Promise<typeof Oauth> => (oauth ??= import('oauth4webapi'));

export type { Jose, Oauth };
