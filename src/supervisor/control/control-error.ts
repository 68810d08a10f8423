import { ErrorCode, GearmanError } from '../../errors.js';

/**
 * A control API request that did not succeed: refused by the supervisor (`status` is
 * the HTTP status, `reason` the API's error code such as `unauthorized`, `not_found`,
 * `draining`), or not answered at all (`status` 0, `reason` `unreachable` or `timeout`).
 */
export class ControlError extends GearmanError {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string, options?: ErrorOptions) {
    super(ErrorCode.CONTROL, message, options);
    this.name = 'ControlError';
    this.status = status;
    this.reason = reason;
  }
}
