import type { Principal } from '@app/auth';
import type { ClientCapabilityName, InputAnswers } from './input';

/** MCP's log levels (RFC 5424), the same in every protocol era. */
export type ToolLogLevel =
  'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency';

export interface ToolTenant {
  id: string;
  slug: string;
}

/** What any capability's handler (tool, resource, prompt, completion) knows about its call. */
export interface CapabilityContext {
  tenant: ToolTenant;
  principal: Principal;
  /** Aborted when the client cancels or the connection goes away. */
  signal: AbortSignal;
  /** What the client answered so far to the `inputRequired(...)` this handler returned. */
  answers: InputAnswers;
  /**
   * Whether the client can be asked this kind of question now: it declared the capability (2025:
   * at initialize, in a session; 2026-07-28: in this request's envelope).
   */
  clientCan(capability: ClientCapabilityName): boolean;
}

/** What a tool handler knows about the call it serves. */
export interface ToolContext extends CapabilityContext {
  /** Reports progress when the client asked for it (a progress token); a no-op otherwise. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /**
   * Sends a log message to the client, at or above the level it asked for (2025: its
   * `logging/setLevel`; 2026-07-28: the request's own `logLevel`, no messages without one).
   */
  log(level: ToolLogLevel, data: unknown): Promise<void>;
}

/** A tool's answer to a caller's mistake: becomes a tool error the model can read and correct. */
export class ToolInputError extends Error {}
