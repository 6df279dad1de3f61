import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAYOUT, createInitialState } from './layout';
import { StateStore } from './store';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proxmox-sim-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const onDisk = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as ReturnType<typeof createInitialState>;

describe('state store', () => {
  it('writes many changes made over several ticks as a bounded number of writes, the last one whole', async () => {
    const file = join(dir, 'many.json');
    const store = new StateStore(file, createInitialState(DEFAULT_LAYOUT, [], []), 50);
    // 1,000 mutations spread over ~200 ms of ticks and timers, as a busy simulator makes them.
    for (let i = 0; i < 1000; i++) {
      store.state.lastPid = i;
      store.save();
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      else await new Promise((resolve) => setImmediate(resolve));
    }
    await store.flush();
    // One write per window at most (plus the one flushed): not one per mutation or per tick.
    expect(store.writes).toBeGreaterThan(0);
    expect(store.writes).toBeLessThanOrEqual(20);
    expect((await onDisk(file)).lastPid).toBe(999);
  });

  it('writes a change within the window without a flush, and flush writes a pending change at once', async () => {
    const file = join(dir, 'window.json');
    const store = new StateStore(file, createInitialState(DEFAULT_LAYOUT, [], []), 100);
    store.state.lastPid = 41;
    store.save();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(store.writes).toBe(1);
    expect((await onDisk(file)).lastPid).toBe(41);

    // A change made while nothing is pending: flush does not wait for the window.
    const slow = new StateStore(file, store.state, 60_000);
    slow.state.lastPid = 42;
    slow.save();
    const started = Date.now();
    await slow.flush();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(slow.writes).toBe(1);
    expect((await onDisk(file)).lastPid).toBe(42);
    // Nothing pending: another flush writes nothing.
    await slow.flush();
    expect(slow.writes).toBe(1);
  });
});
