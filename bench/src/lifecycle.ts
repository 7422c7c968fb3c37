import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorMessage, log } from './util';

/** A process this run started; `died` says why, when it went away on its own. */
export interface ChildEntry {
  name: string;
  child: ChildProcess;
  stopping?: boolean;
  died?: string;
}

/**
 * Every process, temp dir and disposer registered here goes away on exit, on failure and on
 * Ctrl-C: disposers run in reverse order in cleanup(); what is still alive at a synchronous exit
 * is killed and removed in the `exit` handler.
 */
class Lifecycle {
  readonly children = new Set<ChildEntry>();
  private readonly tempDirs = new Set<string>();
  private readonly disposers: (() => Promise<void>)[] = [];
  private cleaning?: Promise<void>;
  /** The autocannon run in progress, stopped first on cleanup. */
  activeCannon?: { stop(): void };
  interrupted = false;

  get cleaningUp(): boolean {
    return this.cleaning !== undefined;
  }

  /** Runs `fn` at cleanup; the returned function unregisters it. */
  defer(fn: () => Promise<void>): () => void {
    this.disposers.push(fn);
    return () => {
      const i = this.disposers.indexOf(fn);
      if (i >= 0) this.disposers.splice(i, 1);
    };
  }

  makeTempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.tempDirs.add(dir);
    return dir;
  }

  removeTempDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
    this.tempDirs.delete(dir);
  }

  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      this.activeCannon?.stop();
      for (let d = this.disposers.pop(); d; d = this.disposers.pop()) {
        try {
          await d();
        } catch (err) {
          log(`cleanup: ${errorMessage(err)}`);
        }
      }
    })();
    return this.cleaning;
  }

  /** The exit and signal handlers; once, by the entry point. */
  install(): void {
    process.on('exit', () => {
      // Last resort when cleanup could not run (a synchronous exit): no orphans, no leftovers.
      for (const { child } of this.children) {
        if (child.exitCode === null && child.signalCode === null) {
          try {
            child.kill('SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
      for (const dir of this.tempDirs) rmSync(dir, { recursive: true, force: true });
    });
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        if (this.interrupted) return;
        this.interrupted = true;
        log(`\n${signal}: stopping servers and cleaning up…`);
        const hardExit = setTimeout(() => process.exit(130), 30_000);
        hardExit.unref();
        void this.cleanup().finally(() => process.exit(130));
      });
    }
  }
}

export const lifecycle = new Lifecycle();
