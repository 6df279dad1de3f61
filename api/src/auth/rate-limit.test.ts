import { describe, expect, it } from 'vitest';
import { FixedWindowLimiter } from './rate-limit';

describe('FixedWindowLimiter', () => {
  const limit = { max: 2, windowMs: 10_000 };

  it('blocks a key after max failures until its window ends', () => {
    const limiter = new FixedWindowLimiter();
    limiter.fail('a', limit, 0);
    expect(limiter.blockedFor('a', limit, 1_000)).toBeNull();
    limiter.fail('a', limit, 1_000);
    expect(limiter.blockedFor('a', limit, 1_000)).toBe(9);
    expect(limiter.blockedFor('a', limit, 9_999)).toBe(1);
    expect(limiter.blockedFor('b', limit, 1_000)).toBeNull();
    expect(limiter.blockedFor('a', limit, 10_000)).toBeNull();
  });

  it('forgets a key on reset', () => {
    const limiter = new FixedWindowLimiter();
    limiter.fail('a', limit, 0);
    limiter.fail('a', limit, 0);
    limiter.reset('a');
    expect(limiter.blockedFor('a', limit, 0)).toBeNull();
  });

  it('stays within maxKeys, dropping expired and then oldest windows', () => {
    const limiter = new FixedWindowLimiter(2);
    const one = { max: 1, windowMs: 10_000 };
    limiter.fail('old', one, 0);
    limiter.fail('mid', one, 5_000);
    limiter.fail('new', one, 6_000); // full, nothing expired: the oldest goes
    expect(limiter.blockedFor('old', one, 6_000)).toBeNull();
    expect(limiter.blockedFor('mid', one, 6_000)).not.toBeNull();
    limiter.fail('later', one, 15_500); // 'mid' has expired by now
    expect(limiter.blockedFor('new', one, 15_500)).not.toBeNull();
    expect(limiter.blockedFor('later', one, 15_500)).not.toBeNull();
  });
});
