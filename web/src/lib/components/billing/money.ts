/**
 * Money as people read and type it, kept in integer minor units everywhere else (the API never
 * sees a float). How many minor digits a currency has comes from Intl (EUR 2, JPY 0, BHD 3).
 */

/** Minor digits of an ISO 4217 currency (2 when Intl does not know it). */
export function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** `€12.50` for (1250, 'EUR'), in the reader's locale. */
export function formatMoney(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  const major = minor / 10 ** digits;
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(major);
  } catch {
    return `${currency} ${major.toFixed(digits)}`;
  }
}

/**
 * What a person typed (`12.5`, `12,50`, `1 200`) as minor units, or null when it is not an amount
 * with at most the currency's minor digits. Parsed as text, never through a float.
 */
export function parseMoney(text: string, currency: string): number | null {
  const digits = minorDigits(currency);
  const t = text.trim().replace(/[\s\u00a0']/g, '');
  const m = /^(\d+)(?:[.,](\d*))?$/.exec(t);
  if (!m) return null;
  const fraction = m[2] ?? '';
  if (fraction.length > digits) return null;
  const minor = Number(m[1]) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0');
  return Number.isSafeInteger(minor) ? minor : null;
}

/** The amount as a form shows it for editing (`12.50`), without a currency sign. */
export function moneyInput(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  if (digits === 0) return String(minor);
  const whole = Math.trunc(minor / 10 ** digits);
  return `${whole}.${String(minor % 10 ** digits).padStart(digits, '0')}`;
}

export const CYCLE_LABEL = { monthly: 'monthly', quarterly: 'quarterly', yearly: 'yearly' } as const;
export const CYCLE_PER = { monthly: '/ month', quarterly: '/ quarter', yearly: '/ year' } as const;
