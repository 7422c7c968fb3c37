import type { LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { Principal } from '@app/auth';

export interface ToolTenant {
  id: string;
  slug: string;
}

/** What a tool handler knows about the call it serves. */
export interface ToolContext {
  tenant: ToolTenant;
  principal: Principal;
  /** Aborted when the client cancels or the connection goes away. */
  signal: AbortSignal;
  /** Reports progress when the client asked for it (a progress token); a no-op otherwise. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** Sends a log message to the client, subject to its `logging/setLevel`. */
  log(level: LoggingLevel, data: unknown): Promise<void>;
}

/** A tool's answer to a caller's mistake: becomes a tool error the model can read and correct. */
export class ToolInputError extends Error {}
