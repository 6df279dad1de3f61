/**
 * What the Proxmox pages read from guests and their runs: how each state looks, the sizes as a
 * person reads them, which actions a state allows, and when the pages refresh.
 *
 * Pure and free of Svelte and SvelteKit imports, so Node tests run it.
 */
import type { Guest, GuestState, RunSummary } from '../../api/types';

/** Badge tones, as `$lib/ui/badge.svelte` names them. */
export type Tone = 'neutral' | 'info' | 'success' | 'warning' | 'danger';

export const GUEST_LOOK: Record<GuestState, { tone: Tone; pulse?: boolean }> = {
  provisioning: { tone: 'info', pulse: true },
  running: { tone: 'success' },
  stopped: { tone: 'neutral' },
  failed: { tone: 'danger' },
  destroyed: { tone: 'neutral' },
};

export const KIND_LABEL: Record<Guest['kind'], string> = { qemu: 'VM', lxc: 'Container' };

/** `512 MiB`, `1 GiB`, `1.5 GiB`: GiB once it is at least one. */
export function formatMemory(mib: number): string {
  if (mib < 1024) return `${mib} MiB`;
  const gib = mib / 1024;
  return `${Number.isInteger(gib) ? gib : gib.toFixed(1)} GiB`;
}

/** `2 cores · 1 GiB · 8 GiB disk`; a VM whose disk kept the template's size says so. */
export function guestSize(g: Pick<Guest, 'cores' | 'memoryMiB' | 'diskGiB'>): string {
  const disk = g.diskGiB === null ? 'template disk' : `${g.diskGiB} GiB disk`;
  return `${g.cores} ${g.cores === 1 ? 'core' : 'cores'} · ${formatMemory(g.memoryMiB)} · ${disk}`;
}

/**
 * What a guest's state allows; mirrors the API (which has the last word, a 409 saying why not):
 * only a guest that exists on Proxmox (has a vmid and node, not provisioning or destroyed) can
 * be acted on, and a failed provision may have left nothing there.
 */
export function allowedActions(g: Pick<Guest, 'state' | 'vmid' | 'node'>) {
  const exists = g.state !== 'provisioning' && g.state !== 'destroyed' && g.vmid !== null && g.node !== null;
  const running = exists && g.state === 'running';
  return {
    start: exists && !running,
    stop: running,
    shutdown: running,
    reboot: running,
    resize: exists,
    snapshot: exists,
    backup: exists,
    destroy: exists,
  };
}

/** How often pages refresh while something is on its way, and otherwise. */
export const REFRESH_ACTIVE_MS = 2000;
export const REFRESH_IDLE_MS = 15_000;
/** A run started here that the runs list never shows (visibility lags, or cannot be read) stops counting after this. */
export const PENDING_RUN_MS = 10 * 60_000;

/**
 * Runs started from this page that are not yet seen closed in the guest's runs list, by
 * workflow id (→ when started). A just-started run may take a moment to show in the list;
 * until it shows closed, the page keeps refreshing often.
 */
export function stillPending(pending: Readonly<Record<string, number>>, runs: ReadonlyArray<Pick<RunSummary, 'workflowId' | 'status'>>, now: number): Record<string, number> {
  const closed = new Set(runs.filter((r) => r.status !== 'Running').map((r) => r.workflowId));
  return Object.fromEntries(Object.entries(pending).filter(([id, at]) => !closed.has(id) && now - at < PENDING_RUN_MS));
}

/** Whether something on the page is still moving: a guest provisioning, a run going, a run just started. */
export function isActive(states: readonly GuestState[], runs: ReadonlyArray<Pick<RunSummary, 'status'>>, pending: Readonly<Record<string, number>>): boolean {
  return states.includes('provisioning') || runs.some((r) => r.status === 'Running') || Object.keys(pending).length > 0;
}

/**
 * Whether a refresh is due: often while active, now and then otherwise (for what others start).
 * A null `lastRefreshAt` (an action was just taken) is due at once.
 */
export function refreshDue(active: boolean, lastRefreshAt: number | null, now: number): boolean {
  if (lastRefreshAt === null) return true;
  return now - lastRefreshAt >= (active ? REFRESH_ACTIVE_MS : REFRESH_IDLE_MS) - 50;
}
