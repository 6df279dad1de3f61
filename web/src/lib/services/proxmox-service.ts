import { request, type Fetch } from '$lib/api/request';
import type {
  CreatedProxmoxCluster,
  Guest,
  GuestBackupMode,
  GuestPowerAction,
  GuestBackupScheduleResult,
  GuestList,
  ProvisionedGuest,
  ProvisionGuestBody,
  ProxmoxCluster,
  ProxmoxClusterInput,
  ProxmoxClusterList,
  ProxmoxClusterPatch,
  StartedRun,
} from '$lib/api/types';

const clusterPath = (id: string) => `/proxmox/clusters/${encodeURIComponent(id)}`;
const guestPath = (id: string) => `/proxmox/guests/${encodeURIComponent(id)}`;

export const fetchClusters = (fetch: Fetch, signal?: AbortSignal) => request<ProxmoxClusterList>(fetch, '/proxmox/clusters', { signal });

/**
 * The API checks the connection (pinned CA, API token) before it stores anything; a failed
 * check is a 400 whose issue names the setting to fix (`tokenSecret`, `caPem`, `url`…).
 */
export const createCluster = (fetch: Fetch, input: ProxmoxClusterInput) =>
  request<CreatedProxmoxCluster>(fetch, '/proxmox/clusters', { method: 'POST', body: input });

/** Changed connection settings are checked again before they are stored. */
export const updateCluster = (fetch: Fetch, id: string, changes: ProxmoxClusterPatch) =>
  request<ProxmoxCluster>(fetch, clusterPath(id), { method: 'PATCH', body: changes });

/** A 409 while guests other than failed or destroyed ones are left on it. */
export const deleteCluster = (fetch: Fetch, id: string) => request<void>(fetch, clusterPath(id), { method: 'DELETE' });

export const fetchGuests = (fetch: Fetch, signal?: AbortSignal) => request<GuestList>(fetch, '/proxmox/guests', { signal });

export const fetchGuest = (fetch: Fetch, id: string, signal?: AbortSignal) => request<Guest>(fetch, guestPath(id), { signal });

/** Records the guest as `provisioning` and starts its `vm.provision` or `lxc.provision` run. */
export const provisionGuest = (fetch: Fetch, body: ProvisionGuestBody) => request<ProvisionedGuest>(fetch, '/proxmox/guests', { method: 'POST', body });

/** Each day-two action starts a run and answers with it. */
const guestAction = (fetch: Fetch, id: string, action: string, body: Record<string, unknown>) =>
  request<StartedRun>(fetch, `${guestPath(id)}/${action}`, { method: 'POST', body });

/** `stop` is a hard stop; `shutdown` asks the guest's OS first. */
export const powerGuest = (fetch: Fetch, id: string, action: GuestPowerAction) => guestAction(fetch, id, 'power', { action });

/** Only what changes; disks only grow. */
export const resizeGuest = (fetch: Fetch, id: string, changes: { cores?: number; memoryMiB?: number; diskGiB?: number }) => guestAction(fetch, id, 'resize', changes);

export const snapshotGuest = (fetch: Fetch, id: string, snapshot: string, description?: string) =>
  guestAction(fetch, id, 'snapshots', description ? { snapshot, description } : { snapshot });

export const rollbackGuest = (fetch: Fetch, id: string, snapshot: string) => guestAction(fetch, id, 'rollback', { snapshot });

/** Backs up now, keeping the newest `keep` backups. */
export const backupGuest = (fetch: Fetch, id: string, options: { keep: number; mode?: GuestBackupMode; storage?: string }) => guestAction(fetch, id, 'backups', options);

/** `confirmName` must be the guest's name: the API refuses anything else. */
export const destroyGuest = (fetch: Fetch, id: string, confirmName: string) => guestAction(fetch, id, 'destroy', { confirmName });

/** Creates or replaces the schedule (a Temporal Schedule that starts `vm.backup`). */
export const setBackupSchedule = (fetch: Fetch, id: string, schedule: { cron: string; keep: number; mode?: GuestBackupMode; storage?: string }) =>
  request<GuestBackupScheduleResult>(fetch, `${guestPath(id)}/backup-schedule`, { method: 'PUT', body: schedule });

/** Scheduled backups stop; the backups already made stay. */
export const deleteBackupSchedule = (fetch: Fetch, id: string) => request<void>(fetch, `${guestPath(id)}/backup-schedule`, { method: 'DELETE' });
