import type { StateView, TaskView } from './control';
import type { FaultRule, FaultSpec } from './faults';
import type { TokenRecord, UserRecord } from './state/model';

/** The fetch the client needs: the simulator's pinned one, or any fetch that trusts its CA. */
export type ControlFetch = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{ status: number; json(): Promise<unknown> }>;

/** A typed client for the control API (`/_sim/…`). */
export interface ControlClient {
  state(): Promise<StateView>;
  reset(): Promise<void>;
  setTimeScale(timeScale: number): Promise<void>;
  addFault(spec: FaultSpec): Promise<FaultRule>;
  faults(): Promise<FaultRule[]>;
  removeFault(id: string): Promise<void>;
  clearFaults(): Promise<void>;
  addUser(user: UserRecord): Promise<void>;
  /** Creates (or replaces) an API token; a secret is generated when none is given. */
  addToken(token: { tokenid: string; secret?: string; readonly?: boolean }): Promise<TokenRecord>;
  setNodeOnline(node: string, online: boolean): Promise<void>;
  /** Sets a config lock, or clears it with null (`qm unlock`). */
  setLock(vmid: number, lock: string | null): Promise<void>;
  /** Waits for a task to end and returns its final record. */
  waitForTask(upid: string): Promise<TaskView>;
  /** Waits until no task is running. */
  waitIdle(): Promise<void>;
}

export function createControlClient(options: { url: string; token: string; fetch: ControlFetch }): ControlClient {
  const base = options.url.replace(/\/+$/, '');
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await options.fetch(`${base}/_sim/${path}`, {
      method,
      headers: { Authorization: `Bearer ${options.token}`, 'Content-Type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const payload = (await res.json()) as T & { error?: string };
    if (res.status !== 200) throw new Error(`control ${method} /_sim/${path} failed (${res.status}): ${payload?.error ?? 'unknown error'}`);
    return payload;
  }
  return {
    state: () => call<StateView>('GET', 'state'),
    reset: async () => void (await call('POST', 'reset')),
    setTimeScale: async (timeScale) => void (await call('PUT', 'time-scale', { timeScale })),
    addFault: (spec) => call<FaultRule>('POST', 'faults', spec),
    faults: () => call<FaultRule[]>('GET', 'faults'),
    removeFault: async (id) => void (await call('DELETE', `faults/${encodeURIComponent(id)}`)),
    clearFaults: async () => void (await call('DELETE', 'faults')),
    addUser: async (user) => void (await call('POST', 'users', user)),
    addToken: (token) => call<TokenRecord>('POST', 'tokens', token),
    setNodeOnline: async (node, online) => void (await call('PUT', `nodes/${encodeURIComponent(node)}`, { online })),
    setLock: async (vmid, lock) => void (await call('PUT', `guests/${vmid}`, { lock })),
    waitForTask: (upid) => call<TaskView>('POST', 'wait', { upid }),
    waitIdle: async () => void (await call('POST', 'wait', {})),
  };
}
