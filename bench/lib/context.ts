/** What every benchmark gets: the run's options, a lazily started local stack, a log and a scratch directory. */
import type { BenchStack } from './stack';

export interface BenchOptions {
  /** Benchmark ids to run, in the order the runner uses. */
  readonly only: readonly string[];
  /** Runs a figure (default 5; quick mode 2). */
  readonly runs: number;
  /** Smaller volumes and shorter loads: a smoke check, not figures to publish. */
  readonly quick: boolean;
  /** Where results.json goes. */
  readonly out: string;
  /** Reuse this cdk.out instead of synthesizing a fresh one. */
  readonly cdkOut?: string;
  /** Always run a fresh `cdk synth` (default: reuse ./cdk.out when it is newer than the sources). */
  readonly synth: boolean;
  /** Write CPU profiles of the child processes that run measured code (matching core, the matcher's memory run) here. */
  readonly profileDir?: string;
  /** Load test duration per run, seconds (default 20; quick mode 3). */
  readonly loadSeconds: number;
  readonly connections: number;
}

export interface BenchContext extends BenchOptions {
  /** The shared local stack, started on first use. */
  stack(): Promise<BenchStack>;
  /** A progress line on stderr. */
  log(line: string): void;
  /** A scratch directory, removed at the end of the run. */
  readonly tmpDir: string;
  /** State shared between benchmarks of one run (seeded users, say). */
  readonly shared: Map<string, unknown>;
}
