import { describe, expect, it } from 'vitest';
import { minorDigits, moneyInput, parseMoney } from './money';

describe('money in forms', () => {
  it('reads amounts as minor units without floats, with the currency’s digits', () => {
    expect(parseMoney('12.5', 'EUR')).toBe(1250);
    expect(parseMoney('12,50', 'EUR')).toBe(1250);
    expect(parseMoney('0.10', 'EUR')).toBe(10);
    expect(parseMoney('1 200', 'EUR')).toBe(120000);
    // 0.29 * 100 is 28.999… as a float; text parsing gets it right.
    expect(parseMoney('0.29', 'USD')).toBe(29);
    expect(parseMoney('500', 'JPY')).toBe(500);
    expect(parseMoney('1.234', 'BHD')).toBe(1234);
  });

  it('refuses what is not an amount in that currency', () => {
    for (const bad of ['', 'abc', '-5', '1.234', '1e3', '12.5.0']) expect(parseMoney(bad, 'EUR'), bad).toBeNull();
    expect(parseMoney('5.5', 'JPY')).toBeNull();
  });

  it('writes minor units back for editing', () => {
    expect(minorDigits('EUR')).toBe(2);
    expect(moneyInput(1250, 'EUR')).toBe('12.50');
    expect(moneyInput(5, 'EUR')).toBe('0.05');
    expect(moneyInput(500, 'JPY')).toBe('500');
  });
});
