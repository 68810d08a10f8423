// The package's only barrel: everything not listed here is internal.
export {
  AdminError,
  ConnectionError,
  ErrorCode,
  GearmanError,
  JobExceptionError,
  JobFailedError,
  ProtocolError,
  ServerError,
  TimeoutError,
} from './errors.js';
export type { Logger } from './log.js';
export type { ServerAddress, TlsOptions } from './net/address.js';
export type { BackoffPolicy, ExponentialBackoffOptions } from './net/backoff.js';
export { exponentialBackoff } from './net/backoff.js';
export { PacketType } from './protocol/constants.js';
