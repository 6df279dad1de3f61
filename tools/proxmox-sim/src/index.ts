import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { accessRoutes } from './api/access';
import { clusterRoutes } from './api/cluster';
import { lxcRoutes } from './api/lxc';
import { nodeRoutes } from './api/nodes';
import { qemuRoutes } from './api/qemu';
import { rrdRoutes } from './api/rrd';
import { Router } from './api/router';
import { storageRoutes } from './api/storage';
import { vzdumpRoutes } from './api/vzdump';
import { Auth } from './auth';
import { Clock } from './clock';
import { Cluster } from './cluster';
import { createControlHandler, type ControlTarget } from './control';
import { createControlClient, type ControlClient } from './control-client';
import { Faults } from './faults';
import { MemoryGuests } from './guests/memory';
import type { GuestBackend } from './guests/types';
import { createApiHandler } from './http/server';
import { createPinnedFetch, type PinnedFetch } from './pinned-fetch';
import { createInitialState, DEFAULT_LAYOUT, type ClusterLayout } from './state/layout';
import type { TokenRecord, UserRecord } from './state/model';
import { StateStore } from './state/store';
import { TaskRunner } from './tasks';
import { loadOrCreateTls } from './tls';

export type { ClusterLayout, NodeLayout, StorageLayout, TemplateLayout } from './state/layout';
export type { UserRecord, TokenRecord } from './state/model';
export type { FaultSpec, FaultMatch, FaultAction, FaultRule } from './faults';
export type { ControlClient } from './control-client';
export type { StateView, GuestView, TaskView } from './control';
export type { PinnedFetch } from './pinned-fetch';
export type { GuestBackend, GuestSpec, GuestInterface } from './guests/types';
export { MemoryGuests } from './guests/memory';
export { createPinnedFetch } from './pinned-fetch';
export { loadControl } from './load-control';
export type { GuestLoad, LoadOverride } from './load';
export { parseUpid, formatUpid, type Upid } from './tasks';

export interface ProxmoxSimOptions {
  /** Where the state file (`state.json`) and the TLS material (`tls/`) live; reused on restart. */
  stateDir: string;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Multiplies every simulated duration (tasks, lock waits); tests use e.g. 0.05. Default 1. */
  timeScale?: number;
  /** Users that can log in (`POST /access/ticket`). Default: root@pam / `proxmox`. */
  users?: UserRecord[];
  /** API tokens; a secret is generated for those without (read it from `sim.tokens`). */
  tokens?: Array<{ tokenid: string; secret?: string; readonly?: boolean }>;
  /** Guards the control API (`Authorization: Bearer …`); generated when omitted. */
  controlToken?: string;
  /** What runs started guests; default `MemoryGuests` (owned and closed by the simulator). */
  guests?: GuestBackend;
  /** Nodes, storages and templates of a fresh cluster; default one node `pve` with template 9000. */
  layout?: Partial<ClusterLayout>;
  /** Delay before a 401 (PVE waits ~3 s); default 3000 at time scale 1, else 0. */
  authFailureDelayMs?: number;
}

export interface ProxmoxSim {
  /** `https://127.0.0.1:<port>` — API under `/api2/json`, control API under `/_sim`. */
  url: string;
  host: string;
  port: number;
  /** The CA that signed the server certificate: trust this, not "any certificate". */
  caPem: string;
  /** SHA-256 of the server certificate, `AA:BB:…`. */
  fingerprint: string;
  controlToken: string;
  /** Tokens as configured, with their secrets. */
  tokens: TokenRecord[];
  /** A fetch trusting only `caPem`, e.g. for `proxmoxApi({ …, fetch: sim.fetch })`. */
  fetch: PinnedFetch;
  control: ControlClient;
  close(): Promise<void>;
}

/** Starts the simulator; resolves once it listens. */
export async function startProxmoxSim(options: ProxmoxSimOptions): Promise<ProxmoxSim> {
  const host = options.host ?? '127.0.0.1';
  const timeScale = options.timeScale ?? 1;
  const clock = new Clock(timeScale);
  const layout: ClusterLayout = { ...DEFAULT_LAYOUT, ...options.layout };
  const users = options.users ?? [{ userid: 'root@pam', password: 'proxmox' }];
  const controlToken = options.controlToken ?? randomUUID();
  const ownsBackend = options.guests === undefined;
  const backend = options.guests ?? new MemoryGuests();

  await mkdir(options.stateDir, { recursive: true });
  const tls = await loadOrCreateTls(options.stateDir, host);
  const stateFile = join(options.stateDir, 'state.json');
  const loaded = await StateStore.load(stateFile);
  const store = new StateStore(stateFile, loaded ?? createInitialState(layout, [], []));
  const tokens = applyAccounts(store, users, options.tokens ?? []);
  const startupAccounts = { users: [...store.state.users], tokens: [...store.state.tokens] };

  const faults = new Faults();
  const cluster = new Cluster(store, clock, backend);
  cluster.fingerprint = tls.fingerprint;
  const tasks = new TaskRunner(store, clock, faults, {
    releaseLock: (vmid) => cluster.releaseLock(vmid),
    discardGuest: async (vmid) => {
      await backend.destroy(vmid);
      cluster.removeGuest(vmid);
    },
  });
  await tasks.recoverInterrupted();
  await reconcileBackend(cluster, backend);

  const auth = new Auth(() => store.state);
  const router = new Router().add(...accessRoutes(auth), ...clusterRoutes, ...nodeRoutes, ...storageRoutes, ...qemuRoutes, ...lxcRoutes, ...vzdumpRoutes, ...rrdRoutes);
  const controlTarget: ControlTarget = {
    controlToken,
    clock,
    faults,
    cluster,
    tasks,
    async reset() {
      await tasks.cancelAll();
      for (const vmid of await backend.list()) await backend.destroy(vmid);
      const fresh = createInitialState(layout, startupAccounts.users, startupAccounts.tokens);
      // Keep the signing secret: tickets issued before the reset stay valid.
      store.state = { ...fresh, secret: store.state.secret };
      faults.clear();
      clock.timeScale = timeScale;
      store.save();
    },
  };
  const handler = createApiHandler({
    router,
    auth,
    cluster,
    tasks,
    faults,
    authFailureDelayMs: () => options.authFailureDelayMs ?? (clock.timeScale === 1 ? 3000 : 0),
    control: createControlHandler(controlTarget),
  });

  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem, minVersion: 'TLSv1.2' }, (req, res) => void handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const fetch = createPinnedFetch(tls.caPem);

  return {
    url,
    host,
    port,
    caPem: tls.caPem,
    fingerprint: tls.fingerprint,
    controlToken,
    tokens,
    fetch,
    control: createControlClient({ url, token: controlToken, fetch: (target, init) => fetch(target, init) }),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await tasks.close();
      await closed;
      await store.flush();
      if (ownsBackend) await backend.close();
    },
  };
}

/** Adds the configured users and tokens to the state (a token keeps its secret across restarts). */
function applyAccounts(store: StateStore, users: UserRecord[], tokens: NonNullable<ProxmoxSimOptions['tokens']>): TokenRecord[] {
  const state = store.state;
  for (const user of users) state.users = [...state.users.filter((existing) => existing.userid !== user.userid), user];
  const configured: TokenRecord[] = [];
  for (const token of tokens) {
    const userid = token.tokenid.split('!')[0]!;
    if (!token.tokenid.includes('!') || !state.users.some((user) => user.userid === userid)) {
      throw new Error(`tokens: '${token.tokenid}' must be user@realm!name of a configured user`);
    }
    const existing = state.tokens.find((candidate) => candidate.tokenid === token.tokenid);
    const record: TokenRecord = {
      tokenid: token.tokenid,
      secret: token.secret ?? existing?.secret ?? randomUUID(),
      ...(token.readonly ? { readonly: true } : {}),
    };
    state.tokens = [...state.tokens.filter((candidate) => candidate.tokenid !== record.tokenid), record];
    configured.push(record);
  }
  store.save();
  return configured;
}

/**
 * After a restart the backend may disagree with the state: guests recorded as running are
 * started again (a no-op for machines that kept running), machines of guests that no longer
 * exist are removed.
 */
async function reconcileBackend(cluster: Cluster, backend: GuestBackend): Promise<void> {
  const known = new Set(cluster.state.guests.map((guest) => guest.vmid));
  for (const vmid of await backend.list()) if (!known.has(vmid)) await backend.destroy(vmid);
  for (const guest of cluster.state.guests) {
    if (guest.status !== 'running') continue;
    try {
      await backend.start(cluster.guestSpec(guest));
    } catch {
      guest.status = 'stopped';
      delete guest.startedAt;
    }
  }
  cluster.save();
}
