import { describe, expect, it } from 'vitest';
import { startPeriodicSweep } from './periodic-sweep';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(done: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

describe('startPeriodicSweep', () => {
  it('sweeps at once and then every interval, with no callbacks given', async () => {
    const at: number[] = [];
    const started = Date.now();
    const loop = startPeriodicSweep(async () => at.push(Date.now() - started), { everyMs: 40, maxBackoffMs: 1_000 });
    await until(() => at.length >= 3);
    await loop.stop();
    expect(at).toHaveLength(3);
  });

  it('doubles the wait while sweeps fail, tells onError, and goes back to the interval after a success', async () => {
    const at: number[] = [];
    const errors: string[] = [];
    const started = Date.now();
    let calls = 0;
    const loop = startPeriodicSweep(
      async () => {
        at.push(Date.now() - started);
        if (++calls <= 3) throw new Error(`down ${calls}`);
        return calls;
      },
      { everyMs: 20, maxBackoffMs: 1_000, onError: (err) => errors.push((err as Error).message) },
    );
    await until(() => at.length >= 5);
    await loop.stop();
    expect(errors).toEqual(['down 1', 'down 2', 'down 3']);
    // Waits after failures 1, 2, 3: 40, 80, 160 ms; then 20 ms again.
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(38);
    expect(gaps[1]).toBeGreaterThanOrEqual(78);
    expect(gaps[2]).toBeGreaterThanOrEqual(158);
  });

  it('never overlaps sweeps, and stop waits for the one in progress and starts no other', async () => {
    let running = 0;
    let most = 0;
    let finished = 0;
    const results: number[] = [];
    const loop = startPeriodicSweep(
      async () => {
        most = Math.max(most, ++running);
        await sleep(30);
        running--;
        return ++finished;
      },
      { everyMs: 5, maxBackoffMs: 1_000, onSwept: (n) => results.push(n) },
    );
    await Promise.all([loop.sweep(), loop.sweep()]);
    await loop.stop();
    const afterStop = finished;
    await sleep(60);
    expect(most).toBe(1);
    expect(finished).toBe(afterStop);
    expect(results).toEqual([...results].sort((a, b) => a - b));
  });
});
