/** The parts of a worker Job the runtime uses (the library's Job fits). */
export interface RunnableJob {
  readonly handle: string;
  readonly unique: string;
  readonly functionName: string;
  readonly payload: Uint8Array;
  readonly signal: AbortSignal;
  status(numerator: number, denominator: number): boolean;
  data(chunk: Uint8Array): boolean;
  warning(chunk: Uint8Array): boolean;
  complete(result: Uint8Array): boolean;
  fail(): boolean;
  exception(payload: string): boolean;
}
