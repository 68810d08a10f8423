/**
 * Thrown by a handler, ends its job at once: no retry, whatever the function's `retry`
 * setting says (the dead-letter function, if any, still receives it). Any thrown value
 * with `retry: false` does the same, so a handler need not import gworker: the check is
 * on that property, not on the class, because a handler thread may load its own copy of
 * this module.
 */
export class PermanentError extends Error {
  readonly retry = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PermanentError';
  }
}
