/**
 * One function's connections to one job server, as status, /metrics and the readiness
 * probe read them: a FunctionBinding's (function-binding.ts) or a `dispatch: thread`
 * function's, whose threads hold one each (direct/direct-function.ts).
 */
export interface ConnectionSnapshot {
  /** `host:port`. */
  readonly server: string;
  /** Connections wanted to it. */
  readonly connections: number;
  /** Some of its connections are up. */
  readonly connected: boolean;
  /** How many of its connections are up now. */
  readonly up: number;
  readonly reconnects: number;
  readonly lastError: string | null;
}
