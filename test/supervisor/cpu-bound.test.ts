import { describe, expect, it } from 'vitest';
import { isCpuBound } from '../../src/supervisor/capacity/cpu-bound.js';
import type { FunctionConfig } from '../../src/supervisor/manifest/types.js';

const base = {
  name: 'f',
  kind: 'command',
  command: ['true'],
  concurrency: 2,
  payload: 'buffer',
  exceptions: true,
} as unknown as FunctionConfig;

describe('isCpuBound', () => {
  it('is false by default: a function may run I/O-bound jobs by the hundred', () => {
    expect(isCpuBound(base)).toBe(false);
  });

  it('is what `cpu` says when set', () => {
    expect(isCpuBound({ ...base, cpu: true })).toBe(true);
    expect(isCpuBound({ ...base, cpu: false, concurrencyAuto: true })).toBe(false);
  });

  it('counts concurrency: auto (sized to the cores) as CPU-bound unless cpu: false', () => {
    expect(isCpuBound({ ...base, concurrencyAuto: true })).toBe(true);
  });
});
