import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { localDate, periodAt, periodIndexAt, periods, prorate } from './periods';

/**
 * A year of cycles in five zones: the far west (UTC−12), the far east (UTC+14), two with DST
 * (one whose clocks jump at midnight, so some local midnights do not exist), and UTC.
 */
const ZONES = ['Etc/GMT+12', 'Pacific/Kiritimati', 'America/Santiago', 'Europe/Berlin', 'UTC'] as const;

const local = (d: Date, zone: string) => DateTime.fromJSDate(d, { zone });

describe('billing periods', () => {
  for (const zone of ZONES) {
    it(`keeps a month-end anchor for a year of monthly periods in ${zone}`, () => {
      const ps = periods('2024-01-31', 'monthly', zone, 13);
      // Jan 31 → Feb 29 (leap year) → Mar 31 → Apr 30 → …, always from the anchor, never drifting.
      expect(ps.map((p) => local(p.start, zone).toISODate())).toEqual([
        '2024-01-31', '2024-02-29', '2024-03-31', '2024-04-30', '2024-05-31', '2024-06-30',
        '2024-07-31', '2024-08-31', '2024-09-30', '2024-10-31', '2024-11-30', '2024-12-31', '2025-01-31',
      ]);
      for (const [i, p] of ps.entries()) {
        const start = local(p.start, zone);
        // Each period starts at the beginning of its local day (midnight, or the first instant
        // after a DST gap at midnight) and ends exactly where the next begins.
        expect(start.equals(start.startOf('day')), `${zone} #${i} ${start.toISO()}`).toBe(true);
        expect(p.index).toBe(i);
        if (i > 0) expect(p.start.getTime()).toBe(ps[i - 1]!.end.getTime());
        expect(p.end.getTime()).toBeGreaterThan(p.start.getTime());
        // An instant inside the period maps back to it; its last millisecond too.
        expect(periodIndexAt('2024-01-31', 'monthly', zone, new Date(p.start.getTime() + 3600_000))).toBe(i);
        expect(periodIndexAt('2024-01-31', 'monthly', zone, new Date(p.end.getTime() - 1))).toBe(i);
      }
      // A year of periods spans exactly the local year, whatever the DST shifts in between.
      const year = local(ps[12]!.start, zone).diff(local(ps[0]!.start, zone), 'days').days;
      expect(Math.round(year)).toBe(366);
      expect(periodIndexAt('2024-01-31', 'monthly', zone, new Date(ps[0]!.start.getTime() - 1))).toBe(-1);
    });

    it(`counts quarterly and yearly periods from the anchor in ${zone}`, () => {
      expect(periods('2023-11-30', 'quarterly', zone, 5).map((p) => local(p.start, zone).toISODate())).toEqual(['2023-11-30', '2024-02-29', '2024-05-30', '2024-08-30', '2024-11-30']);
      expect(periods('2024-02-29', 'yearly', zone, 5).map((p) => local(p.start, zone).toISODate())).toEqual(['2024-02-29', '2025-02-28', '2026-02-28', '2027-02-28', '2028-02-29']);
    });
  }

  it('starts a day at the first instant that exists when its midnight falls in a DST gap', () => {
    // Santiago moved its clocks from 00:00 to 01:00 on 2024-09-08: that midnight never happened.
    const p = periodAt('2024-08-08', 'monthly', 'America/Santiago', 1);
    expect(local(p.start, 'America/Santiago').toISO()).toBe('2024-09-08T01:00:00.000-03:00');
    // Local 00:00 (−04) to local 01:00 (−03): exactly 31 × 24 real hours, nothing lost or doubled.
    expect((p.start.getTime() - periodAt('2024-08-08', 'monthly', 'America/Santiago', 0).start.getTime()) / 3600_000).toBe(31 * 24);
    expect(periodAt('2024-08-08', 'monthly', 'America/Santiago', 0).end.getTime()).toBe(p.start.getTime());
    // Berlin's spring-forward month is an hour shorter, its autumn one an hour longer.
    const march = periodAt('2024-03-01', 'monthly', 'Europe/Berlin', 0);
    const october = periodAt('2024-10-01', 'monthly', 'Europe/Berlin', 0);
    expect((march.end.getTime() - march.start.getTime()) / 3600_000).toBe(31 * 24 - 1);
    expect((october.end.getTime() - october.start.getTime()) / 3600_000).toBe(31 * 24 + 1);
  });

  it('puts the same instant on different local dates in the far west and the far east', () => {
    const at = new Date('2024-06-15T11:30:00Z');
    expect(localDate(at, 'Etc/GMT+12')).toBe('2024-06-14');
    expect(localDate(at, 'Pacific/Kiritimati')).toBe('2024-06-16');
    // Their first periods start 26 hours apart for the same calendar anchor.
    const west = periodAt('2024-06-15', 'monthly', 'Etc/GMT+12', 0).start.getTime();
    const east = periodAt('2024-06-15', 'monthly', 'Pacific/Kiritimati', 0).start.getTime();
    expect((west - east) / 3600_000).toBe(26);
  });

  it('prorates the rest of a period in integer minor units, rounding half up once', () => {
    const p = periodAt('2024-04-01', 'monthly', 'UTC', 0); // 30 days
    expect(prorate(3000, p, p.start)).toBe(3000);
    expect(prorate(3000, p, new Date(p.start.getTime() + 10 * 86_400_000))).toBe(2000);
    expect(prorate(1000, p, new Date(p.start.getTime() + 86_400_000))).toBe(967); // 966.67
    expect(prorate(1000, p, p.end)).toBe(0);
    expect(() => periodAt('2024-01-01', 'monthly', 'Mars/Olympus', 0)).toThrow('unknown time zone');
  });
});
