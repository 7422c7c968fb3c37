import { Foundation1763700000000 } from './1763700000000-foundation';
import { Notes1763800000000 } from './1763800000000-notes';
import { KeyRateLimit1763900000000 } from './1763900000000-key-rate-limit';
import { AuditEventId1796155418857 } from './1796155418857-audit-event-id';
import { KeyCapabilityLists1796300000000 } from './1796300000000-key-capability-lists';
import { ToolSources1796400000000 } from './1796400000000-tool-sources';

/** Every migration, in order. `npm run migration:create -- <name>` adds a file; list it here. */
export const migrations = [
  Foundation1763700000000,
  Notes1763800000000,
  KeyRateLimit1763900000000,
  AuditEventId1796155418857,
  KeyCapabilityLists1796300000000,
  ToolSources1796400000000,
];
