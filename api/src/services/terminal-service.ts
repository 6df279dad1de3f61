/**
 * Interactive shells in running containers: `docker exec` with a TTY, attached to a WebSocket.
 *
 * The API talks to the node's engine itself (the node row's `endpoint`), so a terminal needs no
 * workflow: it is a live byte stream, not an operation that could be retried or resumed. Each
 * session is audited (`container.exec`) before its shell starts.
 *
 * Docker does not end an exec's process when its attach connection closes, so every session's
 * processes carry a marker in their environment (`KEELSON_TERMINAL=<session id>`) and are
 * killed by a second exec when the session ends, whichever side ended it.
 */
import { DockerLabel } from '@keelson/common/constants';
import { writeAudit } from '@keelson/db';
import { nodes } from '@keelson/db/schema';
import Docker from 'dockerode';
import { and, eq } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { AppError, ConflictError, NotFoundError } from '../errors';
import { requireContainer } from './containers-service';
import { auditActor, type ServiceContext } from './context';

/** Shells a caller may ask for (`?shell=`); `sh` unless asked. */
export const TERMINAL_SHELLS = ['sh', 'bash', 'ash'] as const;
export type TerminalShell = (typeof TERMINAL_SHELLS)[number];

/** The one control message a browser sends: the terminal's size in character cells. */
export const TerminalResize = z.object({
  type: z.literal('resize'),
  cols: z.number().int().min(1).max(1000),
  rows: z.number().int().min(1).max(1000),
});

/** WebSocket close codes this side uses (4000–4999 are the application's own). */
export const TerminalClose = {
  /** The shell exited; the reason carries its exit code. */
  exited: 1000,
  /** The API is stopping. */
  goingAway: 1001,
  /** Docker refused the exec, or the audit row could not be written. */
  failed: 1011,
  /** No input from the browser for the idle timeout. */
  idle: 4000,
} as const;

/** Ping the browser this often; a socket that misses one pong is cut (a vanished peer). */
const HEARTBEAT_MS = 30_000;
/** A session nobody types into for this long is ended. */
const IDLE_MS = 30 * 60_000;
/** Output queued for a slow browser before the shell's output is paused (and input held before it starts). */
const OUTPUT_HIGH_WATER = 1024 * 1024;
/** How long processes get to leave after SIGHUP before they are killed. */
const HANGUP_GRACE_S = 2;

/** Docker clients by node endpoint: one connection pool per engine. */
const engines = new Map<string, Docker>();

/** `unix:///var/run/docker.sock` or `tcp://host:port` (the forms nodes are registered with). */
export function dockerFor(endpoint: string): Docker {
  let docker = engines.get(endpoint);
  if (!docker) {
    const url = new URL(endpoint);
    if (url.protocol === 'unix:') docker = new Docker({ socketPath: url.pathname });
    else if (url.protocol === 'tcp:') docker = new Docker({ host: url.hostname, port: Number(url.port), protocol: 'http' });
    else throw new Error(`unsupported Docker endpoint ${endpoint}`);
    engines.set(endpoint, docker);
  }
  return docker;
}

/** What a terminal attaches to, checked before the WebSocket is accepted. */
export interface TerminalTarget {
  containerId: string;
  containerName: string;
  shell: TerminalShell;
  docker: Docker.Container;
}

/**
 * The caller's container, running, and its Docker container on its node: 404 for another
 * organization's (or no) container, 409 when it is not running.
 */
export async function prepareTerminal(ctx: ServiceContext, containerId: string, shell: TerminalShell): Promise<TerminalTarget> {
  const container = await requireContainer(ctx, containerId);
  if (container.state !== 'running') throw new ConflictError(`container is ${container.state}, not running`);
  const [node] = await ctx.deps.db
    .select({ endpoint: nodes.endpoint })
    .from(nodes)
    .where(and(eq(nodes.tenantId, ctx.principal.tenantId), eq(nodes.id, container.nodeId)));
  if (!node) throw new NotFoundError('node');
  const docker = dockerFor(node.endpoint);
  const [found] = await docker
    .listContainers({
      all: true,
      filters: { label: [`${DockerLabel.container}=${container.id}`, `${DockerLabel.tenant}=${ctx.principal.tenantId}`] },
    })
    .catch((err: Error) => {
      // The API reaches each node's engine itself: a node served from another host needs a tcp:// endpoint.
      throw new AppError(502, 'node_unreachable', `the Docker engine of this container's node (${node.endpoint}) is not reachable from the API: ${err.message}`);
    });
  if (!found) throw new ConflictError('container does not exist on its node');
  if (found.State !== 'running') throw new ConflictError(`container is ${found.State} on its node, not running`);
  return { containerId: container.id, containerName: container.name, shell, docker: docker.getContainer(found.Id) };
}

export interface TerminalSession {
  readonly id: string;
  /** A frame from the browser: a resize (JSON text) or keystrokes (anything else). */
  receive(data: string | ArrayBuffer): void;
  /** Ends the session: the socket is closed (if open) and the shell's processes are killed. */
  end(code: number, reason: string): Promise<void>;
}

export interface TerminalSessionsOptions {
  heartbeatMs?: number;
  idleMs?: number;
}

/** Every open terminal of one API process, so that a graceful stop can end them all. */
export function createTerminalSessions(options: TerminalSessionsOptions = {}) {
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const idleMs = options.idleMs ?? IDLE_MS;
  const open = new Set<TerminalSession>();

  return {
    get size() {
      return open.size;
    },

    /**
     * Starts the shell for an accepted WebSocket and pipes bytes both ways. Frames that arrive
     * before the shell is ready are queued in order.
     */
    start(ctx: ServiceContext, target: TerminalTarget, socket: WebSocket): TerminalSession {
      const id = randomUUID();
      const marker = `KEELSON_TERMINAL=${id}`;
      let exec: Docker.Exec | null = null;
      let stream: Duplex | null = null;
      let ending: Promise<void> | null = null;
      const pending: Array<string | ArrayBuffer> = [];
      let pendingBytes = 0;
      let queuedBytes = 0;
      let inputPaused = false;
      let alive = true;

      const heartbeat = setInterval(() => {
        if (!alive) return void socket.terminate();
        alive = false;
        socket.ping();
      }, heartbeatMs);
      const onPong = () => (alive = true);
      socket.on('pong', onPong);
      let idleTimer = setTimeout(onIdle, idleMs);
      function onIdle() {
        void session.end(TerminalClose.idle, `no input for ${Math.round(idleMs / 60_000)} minutes`);
      }

      function sendControl(message: Record<string, unknown>) {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
      }

      function handle(data: string | ArrayBuffer) {
        if (!stream || !exec) {
          pending.push(data);
          pendingBytes += typeof data === 'string' ? data.length : data.byteLength;
          if (pendingBytes > OUTPUT_HIGH_WATER) void session.end(TerminalClose.failed, 'too much input before the shell started');
          return;
        }
        if (typeof data === 'string' && data.startsWith('{')) {
          let message: unknown;
          try {
            message = JSON.parse(data);
          } catch {
            message = undefined;
          }
          if (message && typeof message === 'object' && 'type' in message) {
            const resize = TerminalResize.safeParse(message);
            if (!resize.success) {
              sendControl({ type: 'error', message: `bad control message: ${resize.error.issues.map((i) => `${i.path.join('.') || 'type'} ${i.message}`).join('; ')}` });
              return;
            }
            exec.resize({ h: resize.data.rows, w: resize.data.cols }).catch((err: Error) => sendControl({ type: 'error', message: `resize failed: ${err.message}` }));
            return;
          }
        }
        const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
        // A shell that does not read its input: stop reading the socket until it drains.
        if (!stream.write(bytes) && !inputPaused) {
          inputPaused = true;
          socket.pause();
          stream.once('drain', () => {
            inputPaused = false;
            socket.resume();
          });
        }
      }

      function forwardOutput(chunk: Buffer) {
        if (socket.readyState !== socket.OPEN) return;
        queuedBytes += chunk.length;
        socket.send(chunk, { binary: true }, () => {
          queuedBytes -= chunk.length;
          if (queuedBytes < OUTPUT_HIGH_WATER / 2 && stream?.isPaused()) stream.resume();
        });
        // A browser that cannot keep up (cat of a large file): hold the shell's output.
        if (queuedBytes > OUTPUT_HIGH_WATER) stream?.pause();
      }

      async function begin() {
        exec = await target.docker.exec({
          Cmd: [target.shell],
          Tty: true,
          AttachStdin: true,
          AttachStdout: true,
          AttachStderr: true,
          Env: [marker, 'TERM=xterm-256color'],
        });
        await writeAudit(ctx.deps.db, {
          ...auditActor(ctx),
          action: 'container.exec',
          resourceType: 'container',
          resourceId: target.containerId,
          details: { name: target.containerName, shell: target.shell, session: id },
        });
        if (ending) return;
        const started = (await exec.start({ hijack: true, stdin: true, Tty: true })) as Duplex;
        if (ending) return void started.destroy();
        stream = started;
        stream.on('data', forwardOutput);
        stream.once('close', () => void shellEnded());
        stream.on('error', () => stream?.destroy());
        for (const data of pending.splice(0)) handle(data);
      }

      async function shellEnded() {
        if (ending) return;
        const info = await exec?.inspect().catch(() => null);
        const code = info?.ExitCode;
        await session.end(TerminalClose.exited, code === null || code === undefined ? 'shell exited' : `shell exited with code ${code}`);
      }

      const session: TerminalSession = {
        id,
        receive(data) {
          clearTimeout(idleTimer);
          idleTimer = setTimeout(onIdle, idleMs);
          handle(data);
        },
        end(code, reason) {
          ending ??= (async () => {
            clearInterval(heartbeat);
            clearTimeout(idleTimer);
            socket.off('pong', onPong);
            if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, closeReason(reason));
            stream?.destroy();
            if (exec) await killSessionProcesses(target.docker, marker);
            open.delete(session);
          })();
          return ending;
        },
      };
      open.add(session);
      begin().catch((err: Error) => void session.end(TerminalClose.failed, `could not start ${target.shell}: ${err.message}`));
      return session;
    },

    /** Ends every session (for a graceful stop), killing their shells. */
    async closeAll(reason = 'the API is stopping'): Promise<void> {
      await Promise.all([...open].map((s) => s.end(TerminalClose.goingAway, reason)));
    },
  };
}

export type TerminalSessions = ReturnType<typeof createTerminalSessions>;

/** Close reasons are limited to 123 bytes. */
function closeReason(reason: string): string {
  const bytes = Buffer.from(reason, 'utf8');
  return bytes.length <= 123 ? reason : `${bytes.subarray(0, 119).toString('utf8').replace(/\uFFFD$/, '')}…`;
}

/**
 * Sends SIGHUP (as a closing terminal would) to every process of the session, then SIGKILL to
 * what is left after a grace period. Runs inside the container, where `/proc` shows each
 * process's environment; a container that stopped meanwhile has nothing left to kill.
 */
async function killSessionProcesses(container: Docker.Container, marker: string): Promise<void> {
  const script = [
    'sweep() { hit=1; for p in /proc/[0-9]*; do',
    '  if { tr "\\0" "\\n" < "$p/environ"; } 2>/dev/null | grep -qxF "$1"; then kill -"$2" "${p#/proc/}" 2>/dev/null; hit=0; fi',
    'done; return $hit; }',
    'sweep "$1" HUP || exit 0',
    `i=0; while [ $i -lt ${HANGUP_GRACE_S * 10} ] && sweep "$1" 0; do sleep 0.1 || sleep 1; i=$((i+1)); done`,
    'sweep "$1" KILL; exit 0',
  ].join('\n');
  try {
    const killer = await container.exec({ Cmd: ['/bin/sh', '-c', script, 'keelson-terminal-reaper', marker], AttachStdout: true, AttachStderr: true });
    const out = (await killer.start({ hijack: true, stdin: false })) as Duplex;
    out.resume();
    await new Promise<void>((resolve) => {
      out.once('close', resolve);
      out.once('end', resolve);
      out.once('error', () => resolve());
    });
  } catch {
    // The container stopped or went away: so did the session's processes.
  }
}
