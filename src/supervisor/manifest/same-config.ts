import type { FunctionConfig } from './types.js';

/** Two checked function configs mean the same (a reload with an equal one changes nothing). */
export function sameConfig(a: FunctionConfig | undefined, b: FunctionConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
