import type { McpExchange } from '../mcp-exchange';
import type { McpEra } from '../tool-call-recorder';

/**
 * One way of serving a tenant's MCP endpoints: a protocol era, or a transport of one. The router
 * asks the strategies in order whether a request is theirs and hands it to the first that says so;
 * adding an era is adding a strategy.
 */
export interface ServingStrategy {
  readonly era: McpEra;
  readonly transport: 'streamable-http' | 'sse';
  /**
   * Whether the request belongs to this strategy. For a POST to `mcp` without a session the body
   * has been read when this is asked (the era is in it); otherwise it has not.
   */
  claims(x: McpExchange): boolean;
  /**
   * Serves the request. Also gets the requests of an era the tenant's posture refuses when it is
   * the posture's only era, and answers them with the error its specification prescribes.
   */
  serve(x: McpExchange): Promise<void>;
}
