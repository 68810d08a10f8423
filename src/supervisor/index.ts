// The `gworker/supervisor` entry: the Supervisor, manifest loading and the control API.
// It loads piscina, yaml and prom-client; the handler types and PermanentError a handler
// module needs come from `gworker`, which loads none of them.

export { ControlError } from './control/control-error.js';
export type { ControlServerOptions } from './control/control-server.js';
export { ControlServer } from './control/control-server.js';
export type { ControlListen } from './control/listen-address.js';
export { DEFAULT_CONTROL_PORT, parseControlAddress } from './control/listen-address.js';
export type { FunctionReport, ServerReport, StatusDocument } from './control/status-document.js';
export type { ManifestIssue } from './manifest/errors.js';
export { ManifestError } from './manifest/errors.js';
export { loadManifest } from './manifest/load.js';
export type { FunctionConfig, Manifest, ServerConfig } from './manifest/types.js';
export type { RetryCause, RetryPolicy } from './retry/policy.js';
export type { SupervisorOptions } from './supervisor.js';
export { Supervisor } from './supervisor.js';
