import type { SerializedError } from './messages.js';

/** A handler's error as log lines carry it under `err`, in pino's shape: type, message, stack. */
export interface LoggedError {
  readonly type: string;
  readonly message: string;
  readonly stack?: string;
}

/**
 * The error for a log line's `err`. Without a prototype: pino's err serializer takes an
 * object's type from its constructor, which would make every one "Object".
 */
export function logError(error: SerializedError): LoggedError {
  const logged: { type: string; message: string; stack?: string } = Object.create(null);
  logged.type = error.name;
  logged.message = error.message;
  if (error.stack !== undefined) logged.stack = error.stack;
  return logged;
}
