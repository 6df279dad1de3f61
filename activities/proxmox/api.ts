import { ApplicationFailure, Context, heartbeat, sleep } from '@temporalio/activity';
import type { ProxmoxApi } from './client';
import { isTaskSuccess, taskFailure, toProxmoxFailure } from './errors';

/** Parameters as `proxmox-api` sends them: booleans become 1/0, arrays repeat the key. */
export type PveParams = Record<string, string | number | boolean | string[] | undefined>;

/** Path segments; each one is escaped by the client (a volume id's `/` included). */
export type PvePath = Array<string | number>;

/**
 * The calls the activities make, through `proxmox-api`'s path proxy (`px.$('nodes').$(node)…`),
 * with every failure mapped by {@link toProxmoxFailure}. Responses are typed by the caller: the
 * client's generated types describe the schema, not what servers return (numbers as strings…).
 */
export interface Pve {
  get<T>(path: PvePath, params?: PveParams, action?: string): Promise<T>;
  post<T = string>(path: PvePath, params?: PveParams, action?: string): Promise<T>;
  put<T = null>(path: PvePath, params?: PveParams, action?: string): Promise<T>;
  del<T = string>(path: PvePath, params?: PveParams, action?: string): Promise<T>;
  /** The raw call, errors unmapped, for callers that must look at an error before mapping it. */
  raw<T>(method: 'get' | 'post' | 'put' | 'delete', path: PvePath, params?: PveParams): Promise<T>;
}

type ProxyNode = { $(segment: string | number): ProxyNode } & Record<`$${'get' | 'post' | 'put' | 'delete'}`, (params?: PveParams) => Promise<unknown>>;

/**
 * `reads` (default: `px`) serves the GETs — a client with kept-alive connections, where repeating
 * a read after pveproxy closed a pooled socket is harmless; `px` every call that changes something
 * (one connection per call, since proxmox-api repeats a call after a network error).
 */
export function pveOf(px: ProxmoxApi, reads: ProxmoxApi = px): Pve {
  const at = (path: PvePath, api: ProxmoxApi): ProxyNode => path.reduce<ProxyNode>((node, segment) => node.$(segment), api as unknown as ProxyNode);
  // The client deletes undefined values from the object it is given; hand it a copy.
  const clean = (params?: PveParams) => (params ? Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) : undefined) as PveParams | undefined;
  const raw = <T>(method: 'get' | 'post' | 'put' | 'delete', path: PvePath, params?: PveParams) =>
    at(path, method === 'get' ? reads : px)[`$${method}`](clean(params)) as Promise<T>;
  const mapped =
    (method: 'get' | 'post' | 'put' | 'delete') =>
    async <T>(path: PvePath, params?: PveParams, action?: string): Promise<T> => {
      try {
        return await raw<T>(method, path, params);
      } catch (err) {
        throw toProxmoxFailure(err, action ?? `${method.toUpperCase()} /${path.join('/')}`);
      }
    };
  return { get: mapped('get'), post: mapped('post'), put: mapped('put'), del: mapped('delete'), raw };
}

/**
 * Delays for polling: quick at first (most tasks end within seconds), capped at `maxMs` so the end
 * of a task is noticed within a quarter of a second (an eighth on average: the wait between a task's
 * end and its next poll is what a provisioning spends beyond Proxmox's own time, bench/README.md);
 * something still going after `slowAfterMs` (a backup, a big clone) is polled every `slowMs`
 * instead, to spare the cluster. Polls are reads over a kept-alive connection (`pveOf`), so one
 * costs pveproxy a small GET, not a TLS handshake.
 */
export function* backoff(initialMs = 100, maxMs = 250, factor = 1.5, slowAfterMs = 60_000, slowMs = 2_000): Generator<number, never> {
  const started = Date.now();
  for (let delay = initialMs; ; delay = Math.min(maxMs, delay * factor)) yield Date.now() - started > slowAfterMs ? Math.max(delay, slowMs) : delay;
}

interface TaskStatus {
  status: 'running' | 'stopped';
  exitstatus?: string;
}

export const nodeOfUpid = (upid: string) => upid.split(':')[1]!;

/**
 * Polls a task until it stops, heartbeating meanwhile; throws the task's failure unless its exit
 * status is `OK` or `WARNINGS: n` (HTTP 200 on the POST only meant "started").
 */
export async function waitForTask(pve: Pve, upid: string, action: string): Promise<void> {
  const status = await pollTask(pve, upid, action);
  if (!isTaskSuccess(status.exitstatus)) throw taskFailure(action, upid, status.exitstatus ?? 'unknown exit status');
}

/** Polls a task until it stops and returns its final status (success or not). */
export async function pollTask(pve: Pve, upid: string, action: string): Promise<TaskStatus> {
  const node = nodeOfUpid(upid);
  for (const delay of backoff()) {
    const status = await pve.get<TaskStatus>(['nodes', node, 'tasks', upid, 'status'], undefined, `${action}: read task status`);
    heartbeat({ upid, action });
    if (status.status === 'stopped') return status;
    await sleep(delay);
  }
  throw new Error('unreachable');
}

/**
 * Runs a task-starting call once per activity, even across retries: the UPID goes into the
 * heartbeat details, and a retried attempt whose task still runs (or ended well) waits for it
 * instead of starting a second one. A task that failed is started again.
 */
export async function runTaskOnce(pve: Pve, action: string, start: () => Promise<string | null>): Promise<void> {
  const previous = (Context.current().info.heartbeatDetails as { upid?: string; action?: string } | undefined) ?? {};
  if (previous.upid && previous.action === action) {
    const status = await pollTask(pve, previous.upid, action).catch(() => undefined);
    if (status && isTaskSuccess(status.exitstatus)) return;
  }
  const upid = await start();
  // Some calls are synchronous on older servers (null instead of a UPID): nothing to wait for.
  if (typeof upid !== 'string' || !upid.startsWith('UPID:')) return;
  heartbeat({ upid, action });
  await waitForTask(pve, upid, action);
}

export function nonRetryable(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}

export function retryable(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: false });
}
