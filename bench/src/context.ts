import type { BuiltApp } from './build';
import type { BenchConfig, BenchOptions } from './options';

/** What every figure of one run shares. */
export interface BenchContext {
  readonly options: BenchOptions;
  readonly config: BenchConfig;
  /** In every slug and scratch database name of this run. */
  readonly runId: string;
  /** ADMIN_TOKEN of every platform process. */
  readonly adminToken: string;
  readonly app: BuiltApp;
}
