import type { JobContext } from './thread/job-context.js';

export type { JobContext };

/**
 * The shape of a handler module's export for `gworker start`. `Payload` follows the
 * function's `payload` setting: Buffer for `buffer`, string for `text`, the parsed
 * value for `json`. The result may be a string, bytes, nothing, or any JSON-able value
 * (sent as JSON).
 *
 * @example
 * ```ts
 * import type { Handler } from 'gworker';
 * const title: Handler<string> = async (text, job) => {
 *   job.status(1, 1);
 *   return text.toUpperCase();
 * };
 * export default title;
 * ```
 */
export type Handler<Payload = Buffer, Result = unknown> = (
  payload: Payload,
  job: JobContext,
) => Result | Promise<Result>;
