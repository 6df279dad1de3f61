import { CYCLE_MONTHS, type BillingCycle } from '@keelson/db/schema';
import { DateTime, IANAZone } from 'luxon';

/**
 * Billing periods in the customer's time zone. Period `n` of a subscription starts at local
 * midnight of `anchor + n × cycle` — always counted from the anchor, never from the previous
 * period, so a month-end anchor is kept (Jan 31 → Feb 28/29 → Mar 31 → Apr 30 → May 31) — and
 * ends where period `n + 1` starts. Local midnight is the start of the calendar day in that zone:
 * on a day whose midnight does not exist (a DST gap at 00:00, e.g. America/Santiago), the day
 * starts at the first instant that does. Instants are absolute (UTC), so periods are contiguous
 * and never overlap, whatever the offsets do in between.
 */
export interface Period {
  index: number;
  start: Date;
  end: Date;
}

function zoneOf(timeZone: string): IANAZone {
  const zone = IANAZone.create(timeZone);
  if (!zone.isValid) throw new RangeError(`unknown time zone "${timeZone}"`);
  return zone;
}

/** The anchor's local calendar date as `{ year, month, day }`. */
function parseAnchor(anchorDate: string) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(anchorDate);
  if (!m) throw new RangeError(`anchor date "${anchorDate}" is not YYYY-MM-DD`);
  return { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
}

/** The start of local calendar day (year, month, day) in `zone`, as an instant. */
function startOfLocalDay(year: number, month: number, day: number, zone: IANAZone): Date {
  // startOf('day') resolves midnight through luxon's offset search: a midnight inside a DST gap
  // moves forward to the first valid local time of that day.
  return DateTime.fromObject({ year, month, day, hour: 12 }, { zone }).startOf('day').toJSDate();
}

/** The local date `months` calendar months after the anchor, clamped to the month's last day. */
function addMonths(anchor: { year: number; month: number; day: number }, months: number) {
  const total = anchor.year * 12 + (anchor.month - 1) + months;
  const year = Math.floor(total / 12);
  const month = (total % 12) + 1;
  const daysInMonth = DateTime.utc(year, month, 1).daysInMonth!;
  return { year, month, day: Math.min(anchor.day, daysInMonth) };
}

export function periodStart(anchorDate: string, cycle: BillingCycle, timeZone: string, index: number): Date {
  const zone = zoneOf(timeZone);
  const d = addMonths(parseAnchor(anchorDate), index * CYCLE_MONTHS[cycle]);
  return startOfLocalDay(d.year, d.month, d.day, zone);
}

export function periodAt(anchorDate: string, cycle: BillingCycle, timeZone: string, index: number): Period {
  return { index, start: periodStart(anchorDate, cycle, timeZone, index), end: periodStart(anchorDate, cycle, timeZone, index + 1) };
}

/** The periods `from`..`from + count - 1`. */
export function periods(anchorDate: string, cycle: BillingCycle, timeZone: string, count: number, from = 0): Period[] {
  return Array.from({ length: count }, (_, i) => periodAt(anchorDate, cycle, timeZone, from + i));
}

/** The local calendar date of an instant in a zone (`YYYY-MM-DD`): the anchor of a subscription starting then. */
export function localDate(at: Date, timeZone: string): string {
  return DateTime.fromJSDate(at, { zone: zoneOf(timeZone) }).toISODate()!;
}

/** The index of the period containing `at` (−1 before the first). */
export function periodIndexAt(anchorDate: string, cycle: BillingCycle, timeZone: string, at: Date): number {
  const anchor = parseAnchor(anchorDate);
  const local = DateTime.fromJSDate(at, { zone: zoneOf(timeZone) });
  // A first guess from calendar months, corrected by at most one step either way.
  let n = Math.floor(((local.year - anchor.year) * 12 + (local.month - anchor.month)) / CYCLE_MONTHS[cycle]);
  while (n > -1 && periodStart(anchorDate, cycle, timeZone, n) > at) n--;
  while (periodStart(anchorDate, cycle, timeZone, n + 1) <= at) n++;
  return n;
}

/**
 * The share of a period left at `at`, as an exact fraction of milliseconds, for proration:
 * `amount × remaining / length`, rounded half up once, in integer arithmetic.
 */
export function prorate(amountMinor: number, period: Period, at: Date): number {
  const length = BigInt(period.end.getTime() - period.start.getTime());
  const clamped = Math.min(Math.max(at.getTime(), period.start.getTime()), period.end.getTime());
  const remaining = BigInt(period.end.getTime() - clamped);
  return Number((BigInt(amountMinor) * remaining * 2n + length) / (2n * length));
}
