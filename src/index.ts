// The package's only barrel: everything not listed here is internal.

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
export type { HttpGatewayOptions } from './server/http/options.js';
export type { JobPriority } from './server/job.js';
export type { MetricsEndpointOptions, MetricsSource } from './server/metrics/metrics-endpoint.js';
export { MetricsEndpoint } from './server/metrics/metrics-endpoint.js';
export type { ServerMetricsOptions } from './server/metrics/server-metrics.js';
export { ServerMetrics } from './server/metrics/server-metrics.js';
export type { GearmanServerOptions } from './server/options.js';
export type { CachedResult, ResultCacheOptions, ResultCacheStats } from './server/result-cache.js';
export type { ServerCloseOptions } from './server/server.js';
export { GearmanServer } from './server/server.js';
export type { ConnectionStats, ServerFunctionStats } from './server/server-stats.js';
export type { SqliteStoreOptions, SqliteSync } from './server/sqlite-store.js';
export { openSqliteStore, SqliteJobStore } from './server/sqlite-store.js';
export type { JobStore, ReplayReport, StoredJob, StoreKey } from './server/store.js';
export { MemoryJobStore } from './server/store.js';
export type { StoreHealth } from './server/store-outage.js';
export type { ServerTlsOptions } from './server/tls.js';
export { ControlError } from './supervisor/control/control-error.js';
export type { ControlServerOptions } from './supervisor/control/control-server.js';
export { ControlServer } from './supervisor/control/control-server.js';
export type { ControlListen } from './supervisor/control/listen-address.js';
export { DEFAULT_CONTROL_PORT, parseControlAddress } from './supervisor/control/listen-address.js';
export type { FunctionReport, ServerReport, StatusDocument } from './supervisor/control/status-document.js';
export type { Handler, JobContext } from './supervisor/handler-types.js';
export type { ManifestIssue } from './supervisor/manifest/errors.js';
export { ManifestError } from './supervisor/manifest/errors.js';
export { loadManifest } from './supervisor/manifest/load.js';
export type { FunctionConfig, Manifest, ServerConfig } from './supervisor/manifest/types.js';
export { PermanentError } from './supervisor/retry/permanent-error.js';
export type { RetryCause, RetryPolicy } from './supervisor/retry/policy.js';
export type { SupervisorOptions } from './supervisor/supervisor.js';
export { Supervisor } from './supervisor/supervisor.js';
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
