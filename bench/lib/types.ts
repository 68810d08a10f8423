/** Shapes shared by the library benches, the runner and bench/results/latest.json. */

export interface LibraryBenchOptions {
  /** Timed runs per peer. */
  readonly runs: number;
  /** Jobs per timed run (drain and submit). */
  readonly jobs: number;
  /** Sequential calls per timed run (round trip). */
  readonly calls: number;
  /**
   * Untimed warm-up jobs (or calls) per run, done the same way on every side first;
   * undefined means as many as the timed part (`jobs` or `calls`).
   */
  readonly warmup?: number | undefined;
  /**
   * Round-trip pairs to run, by peer key (`php`, `gworker`, `gworker-client`,
   * `gworker-worker`); undefined runs all four.
   */
  readonly roundtripPairs?: readonly string[] | undefined;
  /** Our worker's settings for the drain, one row each: maxJobs × connectionsPerServer. */
  readonly drainSettings: ReadonlyArray<WorkerSettings>;
  /** Give up one run (one peer, one repetition) after this long. */
  readonly runTimeoutMs: number;
  /** Write CPU profiles of the timed part of our Node children here (see profiler.ts). */
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
  /** Stable key, e.g. `php-4` or `gworker-32x2`. */
  readonly peer: string;
  /** What the table shows, e.g. `PHP pecl worker, 4 processes`. */
  readonly label: string;
  /** Ours (gworker on every side), the reference (PHP), or one side of each. */
  readonly side: 'ours' | 'php' | 'mixed';
  /** Jobs (or calls) per second of each run, in run order. */
  readonly rates: number[];
  /** The slowest run. */
  readonly minRate: number;
  readonly medianRate: number;
  /** This row's median rate over the median rate of the row named by `versus`. */
  readonly ratio: number;
  /** The peer `ratio` compares with; null for the reference row itself. */
  readonly versus: string | null;
  /** Extra figures by key (see BenchResult.columns), each the median over runs. */
  readonly metrics: Readonly<Record<string, number>>;
}

/** An extra table column, read from Row.metrics. */
export interface MetricColumn {
  readonly key: string;
  readonly header: string;
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
  /** `jobs/s` or `calls/s`. */
  readonly unit: string;
  readonly columns: MetricColumn[];
  readonly rows: Row[];
  readonly goals: Goal[];
  readonly notes: string[];
}
