import { Logger, OnApplicationShutdown } from '@nestjs/common';

export interface DatabaseHealthOptions {
  /** Between probes while the database is down. */
  probeIntervalMs?: number;
  /** A probe that has not answered after this long has failed (the query timeout also applies). */
  probeTimeoutMs?: number;
  logger?: Pick<Logger, 'warn' | 'debug'>;
  now?: () => number;
}

export interface DatabaseOutage {
  /** When the first request failed for it. */
  since: number;
  /** That request's error, one line. */
  reason: string;
  /** Requests refused for it so far (503s, and whatever else reported it). */
  refused: number;
}

function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const line = message.replace(/\s+/g, ' ').trim() || 'unknown error';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/**
 * Whether the database is reachable, as far as requests and a probe can tell, and the outage log:
 * one line when it goes away (with the first error), one when it is back (with how long and how
 * many requests were refused meanwhile), instead of one line per refused request.
 *
 * Requests report "database unavailable" errors (`unavailable`). The first report does not yet
 * declare an outage: a probe (`SELECT 1`, under the same query timeout as every query) confirms
 * it, so that one broken pooled connection, or a straggler that failed just before a recovery,
 * does not make an outage of its own. Once confirmed, the probe runs every `probeIntervalMs`, and
 * its first success ends the outage.
 *
 * Why a probe and not "the first successful query": while the database is away, the traffic that
 * still succeeds is the traffic that needs no database (warm caches), so a successful query may
 * not come for a long time after the database is back, or come from a query that happened to
 * slip through while others still hang; and hooking every query's success would put work on the
 * hot path for the rare outage. The probe costs one cheap query per interval, only while down.
 */
export class DatabaseHealth implements OnApplicationShutdown {
  private readonly logger: Pick<Logger, 'warn' | 'debug'>;
  private readonly now: () => number;
  private readonly probeIntervalMs: number;
  private readonly probeTimeoutMs: number;
  /** Reported but not yet confirmed (a probe is running), or confirmed (`confirmed`). */
  private current?: DatabaseOutage & { confirmed: boolean };
  private timer?: NodeJS.Timeout;
  private probing = false;
  private stopped = false;

  constructor(
    private readonly probe: () => Promise<unknown>,
    options: DatabaseHealthOptions = {},
  ) {
    this.logger = options.logger ?? new Logger('Database');
    this.now = options.now ?? Date.now;
    this.probeIntervalMs = options.probeIntervalMs ?? 1_000;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 10_000;
  }

  /** The confirmed outage, if there is one. */
  outage(): Readonly<DatabaseOutage> | undefined {
    if (!this.current?.confirmed) return undefined;
    const { since, reason, refused } = this.current;
    return { since, reason, refused };
  }

  /** A request could not be served because the database is unavailable (`isDatabaseUnavailable`). */
  unavailable(err: unknown): void {
    if (this.current) {
      this.current.refused += 1;
      return;
    }
    this.current = { since: this.now(), reason: oneLine(err), refused: 1, confirmed: false };
    this.check();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Runs one probe now, unless one is running; schedules the next while the outage lasts. */
  private check(): void {
    if (this.probing || this.stopped) return;
    this.probing = true;
    void this.ping().then((ok) => {
      this.probing = false;
      const outage = this.current;
      if (!outage || this.stopped) return;
      if (ok) {
        this.current = undefined;
        if (outage.confirmed) {
          const seconds = ((this.now() - outage.since) / 1000).toFixed(1);
          this.logger.warn(
            `database reachable again after ${seconds} s; ${outage.refused} requests answered 503 meanwhile`,
          );
        } else {
          this.logger.debug(`database error not confirmed by a probe: ${outage.reason}`);
        }
        return;
      }
      if (!outage.confirmed) {
        outage.confirmed = true;
        this.logger.warn(`database unavailable (first: ${outage.reason})`);
      }
      this.timer = setTimeout(() => this.check(), this.probeIntervalMs);
      this.timer.unref();
    });
  }

  private async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.probeTimeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([this.probe().then(() => true), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
