import type { ScaleChange, ScalingReport } from '../../supervisor/capacity/scaling-book.js';

/** `auto 1..4`, `manual (range 1..4)`, `manual`, `fixed`: how a function's concurrency is set. */
export function describeScaling(fn: { readonly scaling: ScalingReport }): string {
  const { mode, min, max } = fn.scaling;
  const range = min === null || max === null ? '' : `${min}..${max}`;
  if (mode === 'auto') return `auto ${range}`;
  if (mode === 'manual') return range === '' ? 'manual' : `manual, range ${range}`;
  return 'fixed';
}

/** One word for a table cell: `fixed`, `auto:1..4`, `manual:1..4`, `manual`. */
export function scalingCell(fn: { readonly scaling: ScalingReport }): string {
  const { mode, min, max } = fn.scaling;
  return min === null || max === null || mode === 'fixed' ? mode : `${mode}:${min}..${max}`;
}

/** `2 -> 4 by autoscaler: 5 job(s) waiting ...`, for the status's last changes. */
export function describeChange(change: ScaleChange): string {
  return `${change.from} -> ${change.to} by ${change.by} at ${change.at}: ${change.why}`;
}
