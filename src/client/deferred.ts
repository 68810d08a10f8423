/**
 * A promise with its settle functions, built without a closure per call: the executor is
 * one shared function that parks resolve/reject in module slots, read back at once.
 * Submits create one of these per job, so this keeps the hot path allocation-light.
 */
let parkedResolve: ((value: never) => void) | null = null;
let parkedReject: ((reason: unknown) => void) | null = null;

function park(resolve: (value: never) => void, reject: (reason: unknown) => void): void {
  parkedResolve = resolve;
  parkedReject = reject;
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (reason: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  const promise = new Promise<T>(
    park as (resolve: (value: T) => void, reject: (reason: unknown) => void) => void,
  );
  const resolve = parkedResolve as unknown as (value: T) => void;
  const reject = parkedReject as (reason: unknown) => void;
  parkedResolve = null;
  parkedReject = null;
  return { promise, resolve, reject };
}
