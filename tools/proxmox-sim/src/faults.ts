import { randomUUID } from 'node:crypto';

/**
 * Injected failures, so tests can drive a client into every error path deterministically. A rule
 * matches a request (method + path pattern, node, vmid) or a task (type, node, vmid) and fires
 * `times` times.
 */
export interface FaultMatch {
  /** HTTP method of the request. */
  method?: string;
  /**
   * API path without `/api2/json`, segment by segment: `*` matches one segment, `**` any rest.
   * Example: `/nodes/*\/qemu/*\/clone`.
   */
  path?: string;
  /** Task type (`qmclone`, `qmstart`, `vzdump`…): the rule applies to tasks, not requests. */
  taskType?: string;
  /** The guest concerned: the `{vmid}` in the path, or a task's id or target guest. */
  vmid?: number;
  node?: string;
}

export type FaultAction =
  /** Answer the request with this status and reason phrase instead of handling it. */
  | { kind: 'http-error'; status: number; message: string }
  /** The task fails with `message` once `atPercent` (default 50) of its duration has passed. */
  | { kind: 'task-failure'; message: string; atPercent?: number }
  /**
   * `can't lock file '…/lock-<vmid>.conf' - got timeout`: a 500 for a matching request, or the
   * exit status of a matching task (after PVE's 10 s lock wait, scaled).
   */
  | { kind: 'lock-timeout' }
  /** Answer as pveproxy does when the node behind it is unreachable (595). */
  | { kind: 'node-offline' }
  /**
   * Destroy the connection without an answer: `before` handling the request, or `after` it
   * took effect (default) — the case where a retrying client repeats a POST that succeeded.
   */
  | { kind: 'drop-connection'; when?: 'before' | 'after' };

export interface FaultSpec {
  match: FaultMatch;
  action: FaultAction;
  /** How many times it fires; default 1. */
  times?: number | 'always';
}

export interface FaultRule extends FaultSpec {
  id: string;
  /** Times fired so far. */
  fired: number;
}

export interface RequestTarget {
  method: string;
  segments: string[];
  node?: string;
  vmid?: number;
}

export interface TaskTarget {
  type: string;
  node: string;
  /** The UPID id and every guest the task changes (a clone's source and target). */
  vmids: number[];
}

function isTaskRule(rule: FaultSpec): boolean {
  if (rule.match.taskType !== undefined) return true;
  if (rule.match.method !== undefined || rule.match.path !== undefined) return false;
  return rule.action.kind === 'task-failure';
}

/** Glob over path segments: `*` one segment, `**` the rest (possibly empty). */
export function matchPath(pattern: string, segments: string[]): boolean {
  const parts = pattern.split('/').filter((part) => part !== '');
  if (parts[0] === 'api2' && parts[1] === 'json') parts.splice(0, 2);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '**') return true;
    const segment = segments[i];
    if (segment === undefined) return false;
    if (part !== '*' && part !== segment) return false;
  }
  return parts.length === segments.length;
}

export class Faults {
  private rules: FaultRule[] = [];

  add(spec: FaultSpec): FaultRule {
    validateFault(spec);
    const rule: FaultRule = { ...spec, id: randomUUID(), fired: 0 };
    this.rules.push(rule);
    return rule;
  }

  list(): FaultRule[] {
    return this.rules.map((rule) => ({ ...rule }));
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((rule) => rule.id !== id);
    return this.rules.length < before;
  }

  clear(): void {
    this.rules = [];
  }

  /** The first request rule matching, consumed. */
  takeForRequest(target: RequestTarget): FaultRule | undefined {
    return this.take(
      (rule) =>
        !isTaskRule(rule) &&
        (rule.match.method === undefined || rule.match.method.toUpperCase() === target.method) &&
        (rule.match.path === undefined || matchPath(rule.match.path, target.segments)) &&
        (rule.match.node === undefined || rule.match.node === target.node) &&
        (rule.match.vmid === undefined || rule.match.vmid === target.vmid),
    );
  }

  /** The first task rule matching, consumed. */
  takeForTask(target: TaskTarget): FaultRule | undefined {
    return this.take(
      (rule) =>
        isTaskRule(rule) &&
        (rule.match.taskType === undefined || rule.match.taskType === target.type) &&
        (rule.match.node === undefined || rule.match.node === target.node) &&
        (rule.match.vmid === undefined || target.vmids.includes(rule.match.vmid)),
    );
  }

  private take(predicate: (rule: FaultRule) => boolean): FaultRule | undefined {
    const rule = this.rules.find(predicate);
    if (!rule) return undefined;
    rule.fired++;
    const times = rule.times ?? 1;
    if (times !== 'always' && rule.fired >= times) this.remove(rule.id);
    return { ...rule };
  }
}

function validateFault(spec: FaultSpec): void {
  if (!spec || typeof spec !== 'object' || !spec.match || !spec.action) throw new Error('a fault needs `match` and `action`');
  const { action } = spec;
  switch (action.kind) {
    case 'http-error':
      if (!Number.isInteger(action.status) || action.status < 400 || action.status > 599) throw new Error('http-error: status must be 400-599');
      if (typeof action.message !== 'string') throw new Error('http-error: message is required');
      break;
    case 'task-failure':
      if (typeof action.message !== 'string') throw new Error('task-failure: message is required');
      if (action.atPercent !== undefined && (action.atPercent < 0 || action.atPercent > 100)) throw new Error('task-failure: atPercent must be 0-100');
      break;
    case 'lock-timeout':
    case 'node-offline':
    case 'drop-connection':
      break;
    default:
      throw new Error(`unknown fault kind '${(action as { kind: string }).kind}'`);
  }
  if (spec.times !== undefined && spec.times !== 'always' && !(Number.isInteger(spec.times) && spec.times > 0)) {
    throw new Error("times must be a positive integer or 'always'");
  }
}
