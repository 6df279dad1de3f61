/**
 * Consecutive document numbers of one series (`INV-2027` 1–250): how a billing run hands what it
 * finalized to the runs that render and send it, without carrying every invoice in its history.
 */
export interface NumberRange {
  series: string;
  from: number;
  to: number;
}

/** The same numbers as few ranges as possible: sorted by series and number, overlaps and neighbours joined. */
export function mergeNumberRanges(ranges: NumberRange[]): NumberRange[] {
  const sorted = [...ranges].sort((a, b) => (a.series === b.series ? a.from - b.from : a.series < b.series ? -1 : 1));
  const out: NumberRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.series === r.series && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

/** A range cut into pieces of at most `size` numbers. */
export function splitNumberRange(range: NumberRange, size: number): NumberRange[] {
  const out: NumberRange[] = [];
  for (let from = range.from; from <= range.to; from += size) out.push({ series: range.series, from, to: Math.min(range.to, from + size - 1) });
  return out;
}
