import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertTimeScale, type Clock } from './clock';
import type { Cluster } from './cluster';
import type { Faults, FaultSpec } from './faults';
import { dispatchLoadControl, LoadControlError } from './load-control';
import type { TaskRunner } from './tasks';
import type { GuestRecord, TaskRecord, TokenRecord, UserRecord } from './state/model';

/**
 * The control API under `/_sim/`: plain JSON (not PVE's envelope), guarded by the control token
 * (`Authorization: Bearer <token>`). Tests use it to inject faults, change the time scale, add
 * users and tokens, take nodes offline and look at guests, locks and tasks.
 */

export interface ControlTarget {
  controlToken: string;
  clock: Clock;
  faults: Faults;
  cluster: Cluster;
  tasks: TaskRunner;
  /** Back to the start-up cluster: guests, tasks, faults and users as configured at start. */
  reset(): Promise<void>;
}

export interface GuestView {
  vmid: number;
  type: GuestRecord['type'];
  node: string;
  status: GuestRecord['status'];
  lock?: string;
  name?: string;
  template: boolean;
  config: GuestRecord['config'];
}

export type TaskView = Omit<TaskRecord, 'locks' | 'creates'>;

export interface StateView {
  timeScale: number;
  nodes: Array<{ name: string; online: boolean }>;
  guests: GuestView[];
  /** Config flocks currently held (shared ones by clones of a template). */
  fileLocks: Array<{ vmid: number; mode: 'exclusive' | 'shared'; holders: number }>;
  tasks: TaskView[];
  volumes: Array<{ volid: string; node: string | null; content: string; vmid?: number }>;
}

class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body ?? null);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readText(req);
  if (text.trim() === '') return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new ControlError(400, 'body must be a JSON object');
}

function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.replace(/^Bearer\s+/i, ''));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function viewState(target: ControlTarget): StateView {
  const { state } = target.cluster;
  return {
    timeScale: target.clock.timeScale,
    nodes: state.nodes.map((node) => ({ name: node.name, online: node.online })),
    guests: state.guests.map((guest) => ({
      vmid: guest.vmid,
      type: guest.type,
      node: guest.node,
      status: guest.status,
      ...(guest.config.lock !== undefined ? { lock: String(guest.config.lock) } : {}),
      ...(guest.config.name ?? guest.config.hostname ? { name: String(guest.config.name ?? guest.config.hostname) } : {}),
      template: guest.config.template === 1,
      config: guest.config,
    })),
    fileLocks: target.cluster.heldFileLocks(),
    tasks: state.tasks.map(({ locks: _locks, creates: _creates, ...task }) => task),
    volumes: state.volumes.map((volume) => ({ volid: volume.volid, node: volume.node, content: volume.content, ...(volume.vmid !== undefined ? { vmid: volume.vmid } : {}) })),
  };
}

export function createControlHandler(target: ControlTarget) {
  return async (req: IncomingMessage, res: ServerResponse, segments: string[]): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const route = `${method} /${segments.join('/')}`;
    try {
      if (route === 'GET /health') return send(res, 200, { ok: true });
      if (!authorized(req, target.controlToken)) throw new ControlError(401, 'control token required');
      send(res, 200, await dispatch(target, req, method, segments));
    } catch (error) {
      const status = error instanceof ControlError || error instanceof LoadControlError ? error.status : 400;
      send(res, status, { error: error instanceof Error ? error.message : String(error) });
    }
  };
}

async function dispatch(target: ControlTarget, req: IncomingMessage, method: string, segments: string[]): Promise<unknown> {
  const { cluster } = target;
  const load = await dispatchLoadControl(target, req, method, segments, () => readText(req));
  if (load !== undefined) return load;
  const [resource, id] = segments;
  switch (`${method} ${resource ?? ''}${id !== undefined ? '/:id' : ''}`) {
    case 'GET state':
      return viewState(target);
    case 'POST reset':
      await target.reset();
      return { ok: true };
    case 'PUT time-scale': {
      const { timeScale } = await readJson(req);
      assertTimeScale(Number(timeScale));
      target.clock.timeScale = Number(timeScale);
      return { timeScale: target.clock.timeScale };
    }
    case 'GET faults':
      return target.faults.list();
    case 'POST faults':
      return target.faults.add((await readJson(req)) as unknown as FaultSpec);
    case 'DELETE faults':
      target.faults.clear();
      return { ok: true };
    case 'DELETE faults/:id':
      if (!target.faults.remove(id!)) throw new ControlError(404, `no fault '${id}'`);
      return { ok: true };
    case 'POST users': {
      const body = await readJson(req);
      if (typeof body.userid !== 'string' || !/^[^\s:/@]+@[A-Za-z][\w.-]*$/.test(body.userid)) throw new ControlError(400, 'userid must look like user@realm');
      if (typeof body.password !== 'string' || body.password === '') throw new ControlError(400, 'password is required');
      const user: UserRecord = { userid: body.userid, password: body.password, ...(body.readonly === true ? { readonly: true } : {}) };
      cluster.state.users = [...cluster.state.users.filter((existing) => existing.userid !== user.userid), user];
      cluster.save();
      return { userid: user.userid };
    }
    case 'POST tokens': {
      const body = await readJson(req);
      if (typeof body.tokenid !== 'string' || !/^[^\s:/@!]+@[A-Za-z][\w.-]*![A-Za-z][\w.-]*$/.test(body.tokenid)) {
        throw new ControlError(400, 'tokenid must look like user@realm!name');
      }
      const userid = body.tokenid.split('!')[0]!;
      if (!cluster.state.users.some((user) => user.userid === userid)) throw new ControlError(400, `user '${userid}' does not exist`);
      const token: TokenRecord = {
        tokenid: body.tokenid,
        secret: typeof body.secret === 'string' ? body.secret : randomUUID(),
        ...(body.readonly === true ? { readonly: true } : {}),
      };
      cluster.state.tokens = [...cluster.state.tokens.filter((existing) => existing.tokenid !== token.tokenid), token];
      cluster.save();
      return token;
    }
    case 'PUT nodes/:id': {
      const { online } = await readJson(req);
      if (typeof online !== 'boolean') throw new ControlError(400, 'online must be a boolean');
      const node = cluster.state.nodes.find((candidate) => candidate.name === id);
      if (!node) throw new ControlError(404, `no node '${id}'`);
      node.online = online;
      cluster.save();
      return { name: node.name, online };
    }
    case 'PUT guests/:id': {
      // `qm unlock` / `qm set --lock`: set or clear a config lock by hand.
      const { lock } = await readJson(req);
      const guest = cluster.findGuest(Number(id));
      if (!guest) throw new ControlError(404, `no guest ${id}`);
      if (lock === null) cluster.releaseLock(guest.vmid);
      else if (typeof lock === 'string') cluster.setLock(guest, lock);
      else throw new ControlError(400, 'lock must be a string or null');
      return { vmid: guest.vmid, lock: guest.config.lock ?? null };
    }
    case 'POST wait': {
      // Resolves when the task (or, without one, every task) has ended.
      const { upid } = await readJson(req);
      if (typeof upid === 'string') {
        if (!target.tasks.find(upid)) throw new ControlError(404, `no task '${upid}'`);
        await target.tasks.wait(upid);
        return target.tasks.find(upid) ?? null;
      }
      await target.tasks.idle();
      return { ok: true };
    }
    default:
      throw new ControlError(404, `unknown control route ${method} /_sim/${segments.join('/')}`);
  }
}
