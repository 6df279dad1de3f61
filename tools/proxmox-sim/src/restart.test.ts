import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERRUPTED_EXITSTATUS } from './tasks';
import { apiCaller, startTestSim } from './testing';

let stateDir: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'proxmox-sim-restart-'));
});
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('restart', () => {
  it('keeps guests, tasks, tickets and certificates across a restart', async () => {
    const first = await startTestSim({ stateDir });
    const api = apiCaller(first);
    const { ticket } = await api.login();
    const upid = await api.data<string>('POST', '/nodes/pve/qemu/9000/clone', { newid: 300, name: 'survivor' });
    await api.waitTask(upid);
    await api.waitTask(await api.data<string>('POST', '/nodes/pve/qemu/300/status/start'));
    const { caPem, fingerprint } = first;
    await first.close();

    const second = await startTestSim({ stateDir });
    try {
      expect(second.caPem).toBe(caPem);
      expect(second.fingerprint).toBe(fingerprint);
      const again = apiCaller(second, { ticket });
      expect(await again.data('GET', '/nodes/pve/qemu/300/config')).toMatchObject({ name: 'survivor' });
      expect(await again.data('GET', '/nodes/pve/qemu/300/status/current')).toMatchObject({ status: 'running' });
      expect(await again.data('GET', `/nodes/pve/tasks/${encodeURIComponent(upid)}/status`)).toMatchObject({ status: 'stopped', exitstatus: 'OK' });
      // The new in-memory backend got the running guest back: its agent answers.
      expect((await again.call('GET', '/nodes/pve/qemu/300/agent/network-get-interfaces')).status).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('ends tasks interrupted by a stop as "unexpected status" and undoes their locks', async () => {
    const first = await startTestSim({ stateDir, timeScale: 1 });
    const api = apiCaller(first);
    const clone = await api.data<string>('POST', '/nodes/pve/qemu/9000/clone', { newid: 301, full: 1 });
    const snapshot = await api.data<string>('POST', '/nodes/pve/qemu/300/snapshot', { snapname: 'pre' });
    expect((await first.control.state()).guests.find((guest) => guest.vmid === 300)?.lock).toBe('snapshot');
    await first.close();

    const second = await startTestSim({ stateDir });
    try {
      const again = apiCaller(second);
      expect(await again.data('GET', `/nodes/pve/tasks/${encodeURIComponent(clone)}/status`)).toMatchObject({ status: 'stopped', exitstatus: INTERRUPTED_EXITSTATUS });
      const log = await again.data<Array<{ t: string }>>('GET', `/nodes/pve/tasks/${encodeURIComponent(snapshot)}/log`);
      expect(log.at(-1)?.t).toBe(`TASK ERROR: ${INTERRUPTED_EXITSTATUS}`);
      const state = await second.control.state();
      expect(state.guests.map((guest) => guest.vmid)).not.toContain(301);
      expect(state.guests.find((guest) => guest.vmid === 300)?.lock).toBeUndefined();
    } finally {
      await second.close();
    }
  });
});
