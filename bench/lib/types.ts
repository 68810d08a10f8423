/** Shapes shared by the library benches, the runner and bench/results/latest.json. */

export interface LibraryBenchOptions {
  /** Timed runs per peer. */
  readonly runs: number;
  /** Jobs per timed run (drain and submit). */
  readonly jobs: number;
  /** Sequential calls per timed run (round trip). */
  readonly calls: number;
  /** Our worker's settings for the drain, one row each: maxJobs × connectionsPerServer. */
  readonly drainSettings: ReadonlyArray<WorkerSettings>;
  /** Give up one run (one peer, one repetition) after this long. */
  readonly runTimeoutMs: number;
  /** Write `--cpu-prof` profiles of our Node children here. */
  readonly profileDir?: string | undefined;
  /** Progress lines (to stderr, so stdout stays the report). */
  readonly progress: (line: string) => void;
}

export interface WorkerSettings {
  readonly maxJobs: number;
  readonly connections: number;
}

/** One peer's figures over all runs. */
export interface Row {
  /** Stable key, e.g. `php-4` or `gworker`. */
  readonly peer: string;
  /** What the table shows, e.g. `PHP pecl worker x4 processes`. */
  readonly label: string;
  /** Ours (a gworker side) or the reference (PHP). */
  readonly side: 'ours' | 'php' | 'mixed';
  /** Jobs per second of each run, in run order. */
  readonly rates: number[];
  readonly minRate: number;
  readonly medianRate: number;
  /** Median rate over the median rate of the row this one is compared with. */
  readonly ratio: number;
  /** Which row `ratio` compares with. */
  readonly versus: string | null;
  /** Round trip only: mean latency per call (median over runs), and p99 (median over runs). */
  readonly meanUs?: number;
  readonly p99Us?: number;
}

export interface Goal {
  readonly text: string;
  /** Labels and median rates of the two rows compared. */
  readonly ours: string;
  readonly reference: string;
  readonly oursMedian: number;
  readonly referenceMedian: number;
  readonly ratio: number;
  readonly met: boolean;
}

export interface BenchResult {
  readonly name: string;
  readonly title: string;
  readonly rows: Row[];
  readonly goals: Goal[];
  readonly notes: string[];
}
