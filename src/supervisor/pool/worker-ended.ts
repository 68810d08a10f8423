/**
 * How a handler process ended under its jobs, worded for their failure reason: the
 * signal that killed it, its exit code, or the limit it passed. `cause` is what status
 * and metrics count (pool-job.ts ThreadEndCause).
 */
export class WorkerEnded extends Error {
  override readonly cause: 'crash' | 'oom';

  constructor(message: string, cause: 'crash' | 'oom') {
    super(message);
    this.name = 'WorkerEnded';
    this.cause = cause;
  }
}
