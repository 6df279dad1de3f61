import type { IncomingMessage } from 'node:http';
import type { ControlTarget } from './control';
import { currentOverride, forgetAllLoads, setGuestLoad, type LoadOverride } from './load';
import type { PinnedFetch } from './pinned-fetch';

/**
 * The control API's load routes (see ../README.md):
 *   PUT /_sim/guests/<vmid>/load {cpu?, memUsed?, memCache?, netin?, netout?, diskread?, diskwrite?}
 *     — from now on the guest runs at that load (fractions 0…1, rates in bytes/s); `null` or `{}`
 *     returns it to its natural pattern.
 *   GET /_sim/guests/<vmid>/load — the override in force, or null.
 */

const FRACTIONS = ['cpu', 'memUsed', 'memCache'] as const;
const RATES = ['netin', 'netout', 'diskread', 'diskwrite'] as const;

export class LoadControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function parseLoad(body: unknown): LoadOverride | null {
  if (body === null) return null;
  if (typeof body !== 'object' || Array.isArray(body)) throw new LoadControlError(400, 'load must be an object or null');
  const load: LoadOverride = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if ((FRACTIONS as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new LoadControlError(400, `${key} must be a number from 0 to 1`);
    } else if ((RATES as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) throw new LoadControlError(400, `${key} must be a number of bytes per second >= 0`);
    } else {
      throw new LoadControlError(400, `unknown load field '${key}'`);
    }
    load[key as keyof LoadOverride] = value as number;
  }
  return Object.keys(load).length ? load : null;
}

/** Handles the load routes; `undefined` for every other route (left to the main dispatcher). */
export async function dispatchLoadControl(target: ControlTarget, req: IncomingMessage, method: string, segments: string[], readBody: () => Promise<string>): Promise<unknown> {
  if (method === 'POST' && segments.length === 1 && segments[0] === 'reset') {
    forgetAllLoads(target.cluster);
    return undefined;
  }
  if (segments.length !== 3 || segments[0] !== 'guests' || segments[2] !== 'load') return undefined;
  const vmid = Number(segments[1]);
  const guest = target.cluster.findGuest(vmid);
  if (!guest) throw new LoadControlError(404, `no guest ${segments[1]}`);
  if (method === 'GET') return { vmid, load: currentOverride(target.cluster, vmid) };
  if (method !== 'PUT') throw new LoadControlError(404, `unknown control route ${method} /_sim/${segments.join('/')}`);
  const text = (await readBody()).trim();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    throw new LoadControlError(400, 'body must be JSON');
  }
  const load = parseLoad(body);
  setGuestLoad(target.cluster, vmid, load);
  return { vmid, load };
}

/** A client for the load routes, for tests and benches (`sim.url`, `sim.controlToken`, `sim.fetch`). */
export function loadControl(sim: { url: string; controlToken: string; fetch: PinnedFetch }) {
  async function call(method: string, vmid: number, body?: unknown) {
    const res = await sim.fetch(`${sim.url}/_sim/guests/${vmid}/load`, {
      method,
      headers: { authorization: `Bearer ${sim.controlToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const answer = (await res.json()) as { error?: string; load: LoadOverride | null };
    if (!res.ok) throw new Error(`${method} /_sim/guests/${vmid}/load: ${res.status} ${answer.error ?? ''}`);
    return answer.load;
  }
  return {
    set: (vmid: number, load: LoadOverride | null) => call('PUT', vmid, load),
    get: (vmid: number) => call('GET', vmid),
  };
}
