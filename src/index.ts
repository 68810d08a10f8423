// The package's root entry, `gworker`: what a client, a worker, an admin tool or a handler
// module needs, and nothing heavier. The embedded job server is `gworker/server`
// (src/server/index.ts) and the supervisor `gworker/supervisor` (src/supervisor/index.ts):
// importing this entry loads neither SQLite, piscina, prom-client, yaml nor chokidar
// (test/package/entry-weight.test.ts checks it). Everything not listed in one of the
// three entries is internal.

export type { AdminClientOptions } from './client/admin-client.js';
export { AdminClient } from './client/admin-client.js';
export { Client } from './client/client.js';
export type { ClientOptions, ServerOption } from './client/client-options.js';
export type { JobState, JobUpdate } from './client/job.js';
export { ForegroundJob } from './client/job.js';
export type { JobStatus, UniqueJobStatus } from './client/request.js';
export type { BackgroundOptions, Priority, SubmitOptions } from './client/submit-options.js';
export type { JobStoreFailure, ProtocolFailure } from './errors.js';
export {
  AdminError,
  ConnectionError,
  ErrorCode,
  GearmanError,
  JobExceptionError,
  JobFailedError,
  JobStoreError,
  ProtocolError,
  ServerError,
  TimeoutError,
} from './errors.js';
export type { Logger } from './log.js';
export type { ServerAddress, TlsOptions } from './net/address.js';
export type { BackoffPolicy, ExponentialBackoffOptions } from './net/backoff.js';
export { exponentialBackoff } from './net/backoff.js';
export type { MaxQueueSizes } from './protocol/admin.js';
export type {
  FunctionPriorityStatus,
  FunctionStatus,
  JobInfo,
  WorkerInfo,
} from './protocol/admin-replies.js';
export { PacketType } from './protocol/constants.js';
// What a handler module run by the supervisor needs: its types, and the error that ends a
// job without a retry. Type-only or dependency-free, so a handler's import costs nothing.
export type { Handler, JobContext } from './supervisor/handler-types.js';
export { PermanentError } from './supervisor/retry/permanent-error.js';
export type { GrabGate } from './worker/grab-gate.js';
export type { Job, JobOutcome } from './worker/job.js';
export type {
  CloseOptions,
  GrabMode,
  JobEndEvent,
  JobHandler,
  JobResult,
  RegisterOptions,
  WorkerEvents,
  WorkerOptions,
} from './worker/options.js';
export { Worker } from './worker/worker.js';
