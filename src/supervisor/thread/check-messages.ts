import type { SerializedError } from './messages.js';

/** One handler the start-up check loads: its file and the export that must be a function. */
export interface CheckedHandler {
  readonly file: string;
  readonly exportName: string;
}

/** What loading one handler in the start-up check found. */
export interface HandlerCheckResult extends CheckedHandler {
  /** Why it cannot serve; null when it loaded and its export is a function. */
  readonly error: SerializedError | null;
  /** The handler's file and the handler code it loaded (node_modules left out), even when it failed. */
  readonly files: readonly string[];
}

/** The check thread's one message: a result per handler it was given, in the same order. */
export interface CheckReport {
  readonly kind: 'checked';
  readonly results: readonly HandlerCheckResult[];
}

export function isCheckReport(message: unknown): message is CheckReport {
  return typeof message === 'object' && message !== null && (message as CheckReport).kind === 'checked';
}
