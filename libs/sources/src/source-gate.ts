/** A call to a source that the gate refused or that did not finish in time. */
export class SourceUnavailable extends Error {}

export interface GateOptions {
  /** Calls in flight at once; more wait in line. */
  concurrency: number;
  /** How many may wait in line; beyond that a call is refused at once. */
  queue: number;
  /** How long a call may wait for a slot. */
  queueWaitMs: number;
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long the breaker stays open before one trial call is let through. */
  openMs: number;
  now?: () => number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * Keeps one source from taking more than its share: a cap on calls in flight (with a short,
 * bounded line), and a circuit breaker that stops calling an upstream that keeps failing and
 * lets one trial call through after a pause. The caller counts what a failure is (an unreachable
 * upstream, a timeout), not a tool's own error answer.
 */
export class SourceGate {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private failures = 0;
  private openedAt?: number;
  private trial = false;
  private readonly now: () => number;

  constructor(
    private readonly label: string,
    private readonly o: GateOptions,
  ) {
    this.now = o.now ?? Date.now;
  }

  get state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.o.openMs ? 'half-open' : 'open';
  }

  /** Runs `fn` under the cap and the breaker; `fn` answers whether the upstream failed. */
  async run<T>(fn: () => Promise<T>, failed: (outcome: T | Error) => boolean): Promise<T> {
    this.admit();
    await this.slot();
    let outcome: T | Error;
    try {
      outcome = await fn();
    } catch (err) {
      outcome = err as Error;
    } finally {
      this.release();
    }
    this.settle(failed(outcome));
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }

  private admit(): void {
    const state = this.state;
    if (state === 'open') {
      const wait = Math.ceil((this.o.openMs - (this.now() - (this.openedAt ?? 0))) / 1000);
      throw new SourceUnavailable(
        `${this.label} is failing; calls are paused for ${wait} s after ${this.o.failureThreshold} failures in a row`,
      );
    }
    if (state === 'half-open') {
      if (this.trial) {
        throw new SourceUnavailable(`${this.label} is failing; a trial call is under way`);
      }
      this.trial = true;
    }
  }

  private slot(): Promise<void> {
    if (this.inFlight < this.o.concurrency) {
      this.inFlight++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.o.queue) {
      this.trial = false;
      return Promise.reject(
        new SourceUnavailable(
          `${this.label} is busy (${this.o.concurrency} calls in flight); retry shortly`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const go = () => {
        clearTimeout(timer);
        this.inFlight++;
        resolve();
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        this.trial = false;
        reject(
          new SourceUnavailable(
            `${this.label} is busy (${this.o.concurrency} calls in flight); retry shortly`,
          ),
        );
      }, this.o.queueWaitMs);
      timer.unref?.();
      this.waiting.push(go);
    });
  }

  private release(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }

  private settle(failed: boolean): void {
    if (failed) {
      this.failures++;
      if (this.trial || this.failures >= this.o.failureThreshold) this.openedAt = this.now();
    } else {
      this.failures = 0;
      this.openedAt = undefined;
    }
    this.trial = false;
  }
}
