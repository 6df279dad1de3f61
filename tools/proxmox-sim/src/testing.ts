import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxmoxSim, type ProxmoxSim, type ProxmoxSimOptions } from './index';

/**
 * Helpers for tests that talk to the simulator over real HTTPS: a throwaway state directory and
 * a raw API caller that exposes status, reason phrase, content type and body unchanged.
 */

export const ROOT = { userid: 'root@pam', password: 'proxmox' };
export const TOKEN_ID = 'root@pam!keelson';
export const TOKEN_SECRET = '0b6f5c3e-8a61-4f0e-9d6a-3b3c2f1e4a5d';

export interface TestSim extends ProxmoxSim {
  stateDir: string;
  /** Closes the simulator and removes its state directory. */
  dispose(): Promise<void>;
}

export async function startTestSim(options: Partial<ProxmoxSimOptions> = {}): Promise<TestSim> {
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'proxmox-sim-')));
  const sim = await startProxmoxSim({
    timeScale: 0.02,
    users: [ROOT, { userid: 'auditor@pve', password: 'auditor1', readonly: true }],
    tokens: [{ tokenid: TOKEN_ID, secret: TOKEN_SECRET }],
    ...options,
    stateDir,
  });
  return {
    ...sim,
    stateDir,
    async dispose() {
      await sim.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

export interface RawReply {
  status: number;
  reason: string;
  contentType: string | null;
  text: string;
  /** The parsed body when it is JSON. */
  body: { data?: unknown; errors?: Record<string, string>; total?: number; message?: string } | undefined;
}

export type Credentials = { ticket: string; csrf?: string } | { token: string } | undefined;

export interface ApiCaller {
  call(method: string, path: string, params?: Record<string, string | number | string[]>, options?: { auth?: Credentials; json?: boolean }): Promise<RawReply>;
  /** `data` of a 200 reply; throws with the reason phrase otherwise. */
  data<T = unknown>(method: string, path: string, params?: Record<string, string | number | string[]>): Promise<T>;
  login(user?: { userid: string; password: string }): Promise<{ ticket: string; csrf: string }>;
  /** Polls a task until it stops; returns its status. */
  waitTask(upid: string): Promise<{ status: string; exitstatus?: string }>;
}

/** Calls `/api2/json` the way PVE clients do: query for GET/DELETE, urlencoded (or JSON) body otherwise. */
export function apiCaller(sim: ProxmoxSim, defaultAuth: Credentials = { token: `${TOKEN_ID}=${TOKEN_SECRET}` }): ApiCaller {
  async function call(method: string, path: string, params: Record<string, string | number | string[]> = {}, options: { auth?: Credentials; json?: boolean } = {}): Promise<RawReply> {
    const auth = 'auth' in options ? options.auth : defaultAuth;
    const url = new URL(`${sim.url}/api2/json${path}`);
    const headers: Record<string, string> = {};
    if (auth && 'token' in auth) headers.Authorization = `PVEAPIToken=${auth.token}`;
    if (auth && 'ticket' in auth) {
      headers.Cookie = `PVEAuthCookie=${encodeURIComponent(auth.ticket)}`;
      if (auth.csrf) headers.CSRFPreventionToken = auth.csrf;
    }
    let body: string | undefined;
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) for (const item of Array.isArray(value) ? value : [value]) form.append(key, String(item));
    if (method === 'GET' || method === 'DELETE') {
      for (const [key, value] of form) url.searchParams.append(key, value);
    } else if (options.json) {
      body = JSON.stringify(params);
      headers['Content-Type'] = 'application/json';
    } else if ([...form].length > 0) {
      body = form.toString();
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    }
    const res = await sim.fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let parsed: RawReply['body'];
    try {
      parsed = text ? (JSON.parse(text) as RawReply['body']) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, reason: res.statusText, contentType: res.headers.get('content-type'), text, body: parsed };
  }
  async function data<T>(method: string, path: string, params?: Record<string, string | number | string[]>): Promise<T> {
    const reply = await call(method, path, params);
    if (reply.status !== 200) throw new Error(`${method} ${path}: ${reply.status} ${reply.reason} ${reply.text}`);
    return reply.body?.data as T;
  }
  return {
    call,
    data,
    async login(user = ROOT) {
      const reply = await call('POST', '/access/ticket', { username: user.userid, password: user.password }, { auth: undefined });
      const result = reply.body?.data as { ticket: string; CSRFPreventionToken: string } | undefined;
      if (reply.status !== 200 || !result) throw new Error(`login failed: ${reply.status} ${reply.reason}`);
      return { ticket: result.ticket, csrf: result.CSRFPreventionToken };
    },
    async waitTask(upid) {
      const node = upid.split(':')[1]!;
      for (;;) {
        const status = await data<{ status: string; exitstatus?: string }>('GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`);
        if (status.status === 'stopped') return status;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}
