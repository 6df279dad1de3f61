import type { Clock } from './clock';
import type { Faults } from './faults';
import type { StateStore } from './state/store';
import type { TaskRecord } from './state/model';

/** The exit status a task gets when the simulator stopped while it ran (as PVE shows a vanished worker). */
export const INTERRUPTED_EXITSTATUS = 'unexpected status';

/** How many finished tasks the archive keeps. */
const ARCHIVE_LIMIT = 2000;

const hex8 = (value: number) => value.toString(16).toUpperCase().padStart(8, '0');

export interface Upid {
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}

export function formatUpid(upid: Upid): string {
  return `UPID:${upid.node}:${hex8(upid.pid)}:${hex8(upid.pstart)}:${hex8(upid.starttime)}:${upid.type}:${upid.id}:${upid.user}:`;
}

/** PVE's own UPID pattern (PVE::Tools::upid_decode). */
const UPID_PATTERN = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/;

export function parseUpid(text: string): Upid | undefined {
  const match = UPID_PATTERN.exec(text);
  if (!match) return undefined;
  return {
    node: match[1]!,
    pid: parseInt(match[3]!, 16),
    pstart: parseInt(match[4]!, 16),
    starttime: parseInt(match[5]!, 16),
    type: match[6]!,
    id: match[7]!,
    user: match[8]!,
  };
}

/** Where PVE keeps a guest's config flock; named in lock-timeout errors. */
export function configLockPath(kind: 'qemu' | 'lxc', vmid: number): string {
  return kind === 'qemu' ? `/var/lock/qemu-server/lock-${vmid}.conf` : `/run/lock/lxc/pve-config-${vmid}.lock`;
}

export function lockTimeoutMessage(kind: 'qemu' | 'lxc', vmid: number): string {
  return `can't lock file '${configLockPath(kind, vmid)}' - got timeout`;
}

/** Thrown inside a task body to end it with `TASK ERROR: <message>`. */
export class TaskFailure extends Error {}

function waitForAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** Raised in a task body when the simulator shuts down under it. */
class TaskInterrupted extends Error {}

export interface TaskContext {
  readonly upid: string;
  log(line: string): void;
  /** A line counted into `WARNINGS: n`. */
  warn(line: string): void;
  /** Spends `ms` of simulated time; throws when an injected failure or shutdown cuts the task short. */
  step(ms: number): Promise<void>;
}

export interface TaskDefinition {
  node: string;
  type: string;
  /** The UPID id field (usually the vmid, empty for node-wide tasks). */
  id: string;
  user: string;
  /** The planned duration (unscaled ms), where an injected failure at N% lands. */
  durationMs: number;
  /** Every guest the task concerns, for fault matching. */
  vmids: number[];
  /** The config flock a lock-timeout fault names. */
  lockPath?: string;
  /** Guests whose config `lock` the caller set for this task: cleared when it ends, however it ends. */
  locks?: number[];
  /** A guest this task creates: removed again if the task fails. */
  creates?: number;
  run(ctx: TaskContext): Promise<void>;
}

export interface TaskHooks {
  releaseLock(vmid: number): void;
  discardGuest(vmid: number): Promise<void>;
}

/**
 * Runs tasks as pvedaemon's forked workers do: the API call returns the UPID at once, the work
 * goes on in the background, and only the exit status says whether it succeeded.
 */
export class TaskRunner {
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private closed = false;

  constructor(
    private readonly store: StateStore,
    private readonly clock: Clock,
    private readonly faults: Faults,
    private readonly hooks: TaskHooks,
  ) {}

  /** Starts a task and returns its record (the UPID is `record.upid`). */
  start(definition: TaskDefinition): TaskRecord {
    const state = this.store.state;
    const node = state.nodes.find((candidate) => candidate.name === definition.node);
    const now = Date.now();
    state.lastPid += 1 + Math.floor(Math.random() * 7);
    const upid: Upid = {
      node: definition.node,
      pid: state.lastPid,
      pstart: Math.floor((now - (node?.bootedAt ?? now)) / 10),
      starttime: Math.floor(now / 1000),
      type: definition.type,
      id: definition.id,
      user: definition.user,
    };
    const record: TaskRecord = {
      upid: formatUpid(upid),
      ...upid,
      status: 'running',
      log: [],
      locks: definition.locks ?? [],
      ...(definition.creates !== undefined ? { creates: definition.creates } : {}),
    };
    state.tasks.push(record);
    if (state.tasks.length > ARCHIVE_LIMIT) state.tasks.splice(0, state.tasks.length - ARCHIVE_LIMIT);
    this.store.save();

    const controller = new AbortController();
    const done = this.execute(record, definition, controller);
    this.running.set(record.upid, { controller, done });
    return record;
  }

  private async execute(record: TaskRecord, definition: TaskDefinition, controller: AbortController): Promise<void> {
    let failure: string | undefined;
    let warnings = 0;
    const fault = this.faults.takeForTask({ type: definition.type, node: definition.node, vmids: definition.vmids });
    let faultTimer: NodeJS.Timeout | undefined;
    if (fault?.action.kind === 'task-failure') {
      const message = fault.action.message;
      faultTimer = setTimeout(() => controller.abort(new TaskFailure(message)), this.clock.scaled((definition.durationMs * (fault.action.atPercent ?? 50)) / 100));
    } else if (fault?.action.kind === 'lock-timeout') {
      const message = definition.lockPath ? `can't lock file '${definition.lockPath}' - got timeout` : "can't lock file - got timeout";
      // PVE gives up on a config flock after 10 s.
      faultTimer = setTimeout(() => controller.abort(new TaskFailure(message)), this.clock.scaled(10_000));
    }

    const context: TaskContext = {
      upid: record.upid,
      log: (line) => {
        record.log.push(...line.split('\n'));
        this.store.save();
      },
      warn: (line) => {
        warnings++;
        record.log.push(`WARN: ${line}`);
        this.store.save();
      },
      step: async (ms) => {
        const completed = await this.clock.sleep(ms, controller.signal);
        if (!completed || controller.signal.aborted) throw controller.signal.reason;
      },
    };

    try {
      // A held flock: the task waits until the timeout fires.
      if (fault?.action.kind === 'lock-timeout') await waitForAbort(controller.signal);
      await definition.run(context);
    } catch (error) {
      if (error instanceof TaskInterrupted || this.closed) return;
      failure = error instanceof Error ? error.message.replace(/\n+$/, '') : String(error);
    } finally {
      clearTimeout(faultTimer);
      this.running.delete(record.upid);
    }

    if (failure !== undefined && record.creates !== undefined) await this.hooks.discardGuest(record.creates);
    for (const vmid of record.locks) this.hooks.releaseLock(vmid);
    record.status = 'stopped';
    record.endtime = Math.floor(Date.now() / 1000);
    record.exitstatus = failure ?? (warnings > 0 ? `WARNINGS: ${warnings}` : 'OK');
    record.log.push(failure !== undefined ? `TASK ERROR: ${failure}` : warnings > 0 ? `TASK WARNINGS: ${warnings}` : 'TASK OK');
    this.store.save();
  }

  /** `DELETE /nodes/{node}/tasks/{upid}`: ends a running task as interrupted. */
  stop(upid: string): void {
    this.running.get(upid)?.controller.abort(new TaskFailure('received interrupt'));
  }

  find(upid: string): TaskRecord | undefined {
    return this.store.state.tasks.find((task) => task.upid === upid);
  }

  /** Resolves when the task has ended (at once for unknown or finished tasks). */
  async wait(upid: string): Promise<void> {
    await this.running.get(upid)?.done;
  }

  /** Resolves when no task is running. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((task) => task.done));
  }

  runningCount(): number {
    return this.running.size;
  }

  /**
   * Stops every task without finishing it: the records stay `running` in the state file, and
   * the next start settles them with `recoverInterrupted`, as after a crash.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.cancelAll();
  }

  /** Abandons every running task without settling it (the control API's reset replaces the state anyway). */
  async cancelAll(): Promise<void> {
    const tasks = [...this.running.values()];
    for (const task of tasks) task.controller.abort(new TaskInterrupted('simulator stopped'));
    await Promise.all(tasks.map((task) => task.done));
  }

  /**
   * After a restart: tasks that were running when the simulator stopped end as PVE shows a
   * worker that vanished (`unexpected status`); their locks are released and guests they were
   * creating are removed, as the task's own error path would have done.
   */
  async recoverInterrupted(): Promise<void> {
    for (const task of this.store.state.tasks) {
      if (task.status !== 'running') continue;
      if (task.creates !== undefined) await this.hooks.discardGuest(task.creates);
      for (const vmid of task.locks) this.hooks.releaseLock(vmid);
      task.status = 'stopped';
      task.exitstatus = INTERRUPTED_EXITSTATUS;
      task.endtime = Math.floor(Date.now() / 1000);
      task.log.push(`TASK ERROR: ${INTERRUPTED_EXITSTATUS}`);
    }
    this.store.save();
  }
}
