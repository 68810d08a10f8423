import { median, min, ratio } from './stats.js';
import type { Goal, Row } from './types.js';

export interface RowDraft {
  readonly peer: string;
  readonly label: string;
  readonly side: Row['side'];
  /** The peer of the row this one's ratio compares with, or null for the reference itself. */
  readonly versus: string | null;
  readonly rates: number[];
  /** Extra figures per run, by key; the row keeps their medians. */
  readonly metrics?: Readonly<Record<string, number[]>>;
}

/** Turns drafts (rates per run) into rows with min, median and the ratio to their reference. */
export function finishRows(drafts: readonly RowDraft[]): Row[] {
  const medians = new Map(drafts.map((draft) => [draft.peer, median(draft.rates)]));
  return drafts.map((draft) => {
    const medianRate = medians.get(draft.peer) ?? Number.NaN;
    const row: Row = {
      peer: draft.peer,
      label: draft.label,
      side: draft.side,
      rates: draft.rates,
      minRate: min(draft.rates),
      medianRate,
      ratio: draft.versus === null ? Number.NaN : ratio(medianRate, medians.get(draft.versus) ?? Number.NaN),
      versus: draft.versus,
      metrics: Object.fromEntries(
        Object.entries(draft.metrics ?? {}).map(([key, values]) => [key, median(values)]),
      ),
    };
    return row;
  });
}

/** A goal "ours ≥ reference", judged on the medians. */
export function goal(text: string, rows: readonly Row[], oursPeer: string, referencePeer: string): Goal {
  const ours = rows.find((row) => row.peer === oursPeer);
  const reference = rows.find((row) => row.peer === referencePeer);
  const value = ratio(ours?.medianRate ?? Number.NaN, reference?.medianRate ?? Number.NaN);
  return {
    text,
    ours: ours?.label ?? oursPeer,
    reference: reference?.label ?? referencePeer,
    oursMedian: ours?.medianRate ?? Number.NaN,
    referenceMedian: reference?.medianRate ?? Number.NaN,
    ratio: value,
    met: value >= 1,
  };
}
