// The `gworker/server` entry: the embedded job server, its stores, metrics and HTTP
// gateway options. SQLite (better-sqlite3) loads when a store is opened, not here; the
// metrics classes load prom-client. Errors (JobStoreError among them) come from `gworker`.

export type { HttpGatewayOptions } from './http/options.js';
export type { JobPriority } from './job.js';
export type { MetricsEndpointOptions, MetricsSource } from './metrics/metrics-endpoint.js';
export { MetricsEndpoint } from './metrics/metrics-endpoint.js';
export type { ServerMetricsOptions } from './metrics/server-metrics.js';
export { ServerMetrics } from './metrics/server-metrics.js';
export type { GearmanServerOptions } from './options.js';
export type { CachedResult, ResultCacheOptions, ResultCacheStats } from './result-cache.js';
export type { ServerCloseOptions } from './server.js';
export { GearmanServer } from './server.js';
export type { ConnectionStats, ServerFunctionStats } from './server-stats.js';
export type { SqliteStoreOptions, SqliteSync } from './sqlite-store.js';
export { openSqliteStore, SqliteJobStore } from './sqlite-store.js';
export type { JobStore, ReplayReport, StoredJob, StoreKey } from './store.js';
export { MemoryJobStore } from './store.js';
export type { StoreHealth } from './store-outage.js';
export type { ServerTlsOptions } from './tls.js';
