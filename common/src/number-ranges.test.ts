import { describe, expect, it } from 'vitest';
import { mergeNumberRanges, splitNumberRange } from './number-ranges';

describe('number ranges', () => {
  it('joins neighbours and overlaps per series, and keeps gaps and series apart', () => {
    const merged = mergeNumberRanges([
      { series: 'INV-2027', from: 5, to: 5 },
      { series: 'INV-2026', from: 7, to: 9 },
      { series: 'INV-2027', from: 1, to: 3 },
      { series: 'INV-2027', from: 4, to: 4 },
      { series: 'INV-2027', from: 2, to: 3 },
      { series: 'INV-2027', from: 8, to: 10 },
    ]);
    expect(merged).toEqual([
      { series: 'INV-2026', from: 7, to: 9 },
      { series: 'INV-2027', from: 1, to: 5 },
      { series: 'INV-2027', from: 8, to: 10 },
    ]);
  });

  it('cuts a range into pieces that cover each number once', () => {
    expect(splitNumberRange({ series: 'S', from: 3, to: 9 }, 3)).toEqual([
      { series: 'S', from: 3, to: 5 },
      { series: 'S', from: 6, to: 8 },
      { series: 'S', from: 9, to: 9 },
    ]);
    expect(splitNumberRange({ series: 'S', from: 4, to: 4 }, 250)).toEqual([{ series: 'S', from: 4, to: 4 }]);
  });
});
