import { describe, expect, it } from 'vitest';
import { readBackup, readResize, readSchedule } from './guest-actions';
import { allowedActions, formatMemory, guestSize, isActive, PENDING_RUN_MS, refreshDue, REFRESH_ACTIVE_MS, REFRESH_IDLE_MS, stillPending } from './guests';

describe('sizes as a person reads them', () => {
  it('shows memory in MiB below a GiB and in GiB from there', () => {
    expect([formatMemory(512), formatMemory(1024), formatMemory(1536), formatMemory(4096)]).toEqual(['512 MiB', '1 GiB', '1.5 GiB', '4 GiB']);
    expect(guestSize({ cores: 1, memoryMiB: 512, diskGiB: 8 })).toBe('1 core · 512 MiB · 8 GiB disk');
    expect(guestSize({ cores: 4, memoryMiB: 8192, diskGiB: null })).toBe('4 cores · 8 GiB · template disk');
  });
});

describe('allowedActions', () => {
  const on = { vmid: 101, node: 'pve' };
  it('offers power by state, and nothing while provisioning, once destroyed, or when a failed provision left nothing', () => {
    expect(allowedActions({ state: 'running', ...on })).toMatchObject({ start: false, stop: true, shutdown: true, reboot: true, destroy: true });
    expect(allowedActions({ state: 'stopped', ...on })).toMatchObject({ start: true, stop: false, reboot: false, snapshot: true, destroy: true });
    // A failed provision that got as far as a VM can still be started or destroyed.
    expect(allowedActions({ state: 'failed', ...on })).toMatchObject({ start: true, destroy: true });
    for (const g of [{ state: 'provisioning', ...on }, { state: 'destroyed', ...on }, { state: 'failed', vmid: null, node: null }] as const) {
      expect(Object.values(allowedActions(g)).some(Boolean), g.state).toBe(false);
    }
  });
});

describe('refreshing', () => {
  it('is active while a guest provisions, a run goes, or a run started here is not yet seen closed', () => {
    expect(isActive(['running'], [{ status: 'Completed' }], {})).toBe(false);
    expect(isActive(['running', 'provisioning'], [], {})).toBe(true);
    expect(isActive(['running'], [{ status: 'Running' }], {})).toBe(true);
    expect(isActive(['running'], [], { 'vm/x/power/stop/1': 0 })).toBe(true);
  });

  it('forgets a started run once the list shows it closed, or after a while if it never shows', () => {
    const now = 1_000_000;
    const pending = { a: now - 1000, b: now - 1000, c: now - PENDING_RUN_MS - 1 };
    expect(stillPending(pending, [{ workflowId: 'a', status: 'Completed' }, { workflowId: 'b', status: 'Running' }], now)).toEqual({ b: now - 1000 });
  });

  it('is due often while active, now and then otherwise, and at once after an action', () => {
    const now = 1_000_000;
    expect(refreshDue(true, now - REFRESH_ACTIVE_MS, now)).toBe(true);
    expect(refreshDue(false, now - REFRESH_ACTIVE_MS, now)).toBe(false);
    expect(refreshDue(false, now - REFRESH_IDLE_MS, now)).toBe(true);
    expect(refreshDue(false, null, now)).toBe(true);
  });
});

describe('the guest page’s forms', () => {
  const g = { cores: 2, memoryMiB: 2048, diskGiB: 10 };
  it('resizes only what changed, refuses a smaller disk, and says when nothing changed', () => {
    expect(readResize({ cores: '4', memoryMiB: '2048', diskGiB: '10' }, g)).toEqual({ changes: { cores: 4 }, errors: {} });
    expect(readResize({ cores: '2', memoryMiB: '2048', diskGiB: '8' }, g).errors).toEqual({ diskGiB: 'disks only grow: it has 10 GiB' });
    expect(readResize({ cores: '2', memoryMiB: '2048', diskGiB: '' }, g).errors).toEqual({ form: 'nothing to change: these are the current sizes' });
    expect(readResize({ cores: '', memoryMiB: 'x', diskGiB: '' }, g).errors).toEqual({ cores: 'required', memoryMiB: 'must be a whole number' });
  });

  it('reads a backup and a schedule, leaving blank settings to the API and checking the cron has five fields', () => {
    expect(readBackup({ keep: '3', mode: '', storage: ' ' })).toEqual({ body: { keep: 3 }, errors: {} });
    expect(readSchedule({ cron: ' 30  3 * * * ', keep: '7', mode: 'snapshot', storage: 'local' })).toEqual({ body: { cron: '30 3 * * *', keep: 7, mode: 'snapshot', storage: 'local' }, errors: {} });
    expect(readSchedule({ cron: '@daily', keep: '', mode: '', storage: '' }).errors).toEqual({ keep: 'required', cron: 'five fields: minute hour day-of-month month day-of-week, like "30 3 * * *"' });
  });
});
