import { Foundation1763700000000 } from './1763700000000-foundation';

/** Every migration, in order. `npm run migration:create -- <name>` adds a file; list it here. */
export const migrations = [Foundation1763700000000];
