import { decryptSecret, type KeyRing } from '@keelson/common/codec';
import { splitUrlCredentials, type UrlCredentials } from '@keelson/common/credentials';
import { appRouteId, DockerLabel, type SuspensionReason } from '@keelson/common/constants';
import type { HealthCheck } from '@keelson/db/schema';
import { ApplicationFailure, Context, heartbeat, sleep } from '@temporalio/activity';
import type Docker from 'dockerode';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { pack } from 'tar-fs';
import type { RunLog, RunLogWriter } from '../db/run-log';
import type { SourceCheckout, SourceRef } from '../git/index';

/** The node's edge proxy, as deploys use it (CaddyProxy implements it). */
export interface EdgeProxy {
  ensureServer(): Promise<void>;
  setRoute(route: { id: string; hosts: string[]; upstream: string }): Promise<{ previous: string | null }>;
  getRoute(id: string): Promise<{ hosts: string[]; upstream: string } | null>;
  removeRoute(id: string): Promise<void>;
  setStaticRoute(route: { id: string; hosts: string[]; status: number; body: string }): Promise<void>;
}

/** How the suspended page names each reason: generically, never the customer, invoice or note. */
const SUSPENDED_BECAUSE: Record<SuspensionReason, string> = {
  overdue: 'a payment on the account is overdue',
  staff: 'it is held by the provider',
  kyc: "the account holder's identity verification is pending",
};

/**
 * What a suspended app's hostname answers (decision 0027): 503 and a page that says why in
 * general terms. The page is public (anyone may visit the hostname), so it names the reasons
 * and nothing else: not the customer, the invoice or the staff's note.
 */
export function suspendedPage(reasons: readonly SuspensionReason[]): { status: 503; body: string } {
  const why = [...new Set(reasons)].filter((r) => r in SUSPENDED_BECAUSE).map((r) => SUSPENDED_BECAUSE[r]);
  const reason = why.length ? `<p>This service is suspended because ${why.join(', and ')}.</p>` : '';
  return {
    status: 503,
    body: `<!doctype html><html><head><meta charset="utf-8"><title>Service suspended</title></head><body><h1>This service is suspended</h1>${reason}<p>If it is yours, please contact your provider.</p></body></html>`,
  };
}

/** Labels on the containers and images of app releases. */
export const AppLabel = { app: 'io.keelson.app', release: 'io.keelson.release', commit: 'io.keelson.commit' } as const;

export const releaseContainerName = (releaseId: string) => `keelson-release-${releaseId}`;
export const appImageTag = (appId: string, commit: string) => `keelson-app-${appId}:${commit.slice(0, 12)}`;

export interface BuildInput extends SourceRef {
  tenantId: string;
  commit: string;
  dockerfilePath: string;
  buildContext: string;
}

export interface ReleaseContainer {
  tenantId: string;
  appId: string;
  releaseId: string;
  image: string;
  containerPort: number;
  /** The app's environment as stored (encrypted); opened only here, on the node. */
  envSealed: string | null;
}

export interface HealthInput {
  tenantId: string;
  releaseId: string;
  upstream: string;
  health: HealthCheck;
  /** Between probes; short in tests. */
  intervalMs?: number;
}

export interface WatchInput extends HealthInput {
  seconds: number;
  /** Consecutive failed probes that count as "stopped answering". */
  failuresToTrip?: number;
}

const PROBE_TIMEOUT_MS = 2000;
/** Docker's words for a published port that something else holds. */
const PORT_TAKEN = /port is already allocated|address already in use/;

/**
 * Host-bound deploy activities for one Docker node: build a commit into an image, run a release
 * beside the current one, judge its health, and switch the node's edge proxy to it. Each can run
 * again safely: images are found by tag, release containers by label, routes by id.
 */
export function createDeployActivities({
  docker,
  runLog,
  keys,
  source,
  proxy,
  suspensionOf = async () => [],
}: {
  docker: Docker;
  runLog: RunLog;
  keys: KeyRing;
  source: SourceCheckout;
  proxy: EdgeProxy;
  /**
   * The reasons an app is suspended for right now (its holds in force, decision 0027), so that a
   * deploy switching traffic while it is suspended puts up the suspended page, not its release.
   */
  suspensionOf?: (appId: string) => Promise<SuspensionReason[]>;
}) {
  /** The repository's credentials, opened here on the node and handed to git for one call. */
  function repoCredentials(ref: SourceRef): UrlCredentials | null {
    return ref.repoCredentialsSealed ? (JSON.parse(decryptSecret(keys, ref.repoCredentialsSealed)) as UrlCredentials) : null;
  }

  async function findRelease(releaseId: string) {
    const [info] = await docker.listContainers({ all: true, filters: { label: [`${AppLabel.release}=${releaseId}`] } });
    return info;
  }

  async function imageExists(image: string): Promise<boolean> {
    try {
      await docker.getImage(image).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  /** Why a release's container is not serving, or null while it runs as started. */
  async function containerTrouble(releaseId: string): Promise<string | null> {
    const info = await findRelease(releaseId);
    if (!info) return 'its container is gone';
    const { State: state, RestartCount: restarts } = await docker.getContainer(info.Id).inspect();
    // A release that crashed once is not healthy, even if its restart policy brought it back.
    if (state.Running && !state.Restarting && !restarts) return null;
    const restarted = restarts ? ` (restarted ${restarts} time${restarts === 1 ? '' : 's'})` : '';
    return `its container exited with code ${state.ExitCode}${restarted}${state.Error ? `: ${state.Error}` : ''}`;
  }

  /**
   * Removes the step containers an interrupted build left (the builder removes its own as it
   * goes, unless the engine stopped under it). Each ran one step of this build: not a release's,
   * not running now, and its command is that step's, as the finished image's history records it
   * (`/bin/sh -c #(nop) COPY dir:<hash> in …`, `/bin/sh -c #(nop)  LABEL io.keelson.app=…`,
   * `/bin/sh -c <RUN command>`). Its image was an interrupted attempt's, not one of the history.
   * One the engine itself failed to remove while it stopped stays `dead` with its filesystem
   * still mounted, and no API call removes it: the run says so.
   */
  async function removeBuildLeftovers(image: string, writer: RunLogWriter): Promise<void> {
    const history = (await docker.getImage(image).history()) as Array<{ CreatedBy: string }>;
    const steps = new Set(history.map((h) => h.CreatedBy).filter(Boolean));
    const stopped = await docker.listContainers({ all: true, filters: { status: ['created', 'exited', 'dead'] } });
    for (const c of stopped) {
      if (c.Labels?.[AppLabel.release]) continue;
      const container = docker.getContainer(c.Id);
      const { Path: path, Args: args } = await container.inspect();
      if (!steps.has([path, ...args].join(' '))) continue;
      try {
        await container.remove({ force: true });
      } catch (err) {
        if (statusOf(err) === 404) continue;
        if (c.State !== 'dead') throw err;
        await writer.write('system', `the engine cannot remove container ${c.Id.slice(0, 12)} that the interrupted build left: ${(err as Error).message}\n`);
      }
    }
  }

  async function lastLogLines(releaseId: string, lines = 20): Promise<string> {
    const info = await findRelease(releaseId);
    if (!info) return '';
    const buf = (await docker.getContainer(info.Id).logs({ stdout: true, stderr: true, tail: lines })) as unknown as Buffer;
    return demux(buf);
  }

  async function probe(upstream: string, path: string): Promise<{ status: number | null; error?: string }> {
    try {
      const res = await fetch(`http://${upstream}${path}`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), redirect: 'manual' });
      await res.body?.cancel();
      return { status: res.status };
    } catch (err) {
      return { status: null, error: (err as Error).cause ? String((err as { cause: unknown }).cause) : (err as Error).message };
    }
  }

  return {
    /** Resolves the commit to deploy (the branch head when none is given) and its subject. */
    async fetchSource(ref: SourceRef & { tenantId: string }): Promise<{ commit: string; subject: string; author: string }> {
      const writer = runLog.forCurrentActivity(ref.tenantId);
      await writer.write('system', `fetching ${splitUrlCredentials(ref.repoUrl).url} (${ref.commit ?? `head of ${ref.branch}`})\n`);
      const { commit, subject, author } = await source.checkout(ref, repoCredentials(ref));
      await writer.write('system', `commit ${commit}: ${subject} — ${author}\n`);
      return { commit, subject, author };
    },

    /**
     * Builds the commit into `keelson-app-<app>:<sha>` with its output on the run's stream. An
     * image already tagged for the commit is reused (a retried build after a worker crash, a
     * redeploy of the same commit).
     */
    async buildImage(input: BuildInput): Promise<{ image: string; reused: boolean }> {
      const image = appImageTag(input.appId, input.commit);
      const writer = runLog.forCurrentActivity(input.tenantId);
      if (await imageExists(image)) {
        await writer.write('system', `image ${image} already built; reusing it\n`);
        return { image, reused: true };
      }
      const { dir } = await source.checkout(input, repoCredentials(input));
      const context = inside(dir, input.buildContext, 'buildContext');
      const dockerfile = relative(context, inside(dir, input.dockerfilePath, 'dockerfilePath'));
      if (dockerfile.startsWith('..')) throw ApplicationFailure.nonRetryable(`dockerfilePath must be inside the build context (${input.buildContext})`, 'InvalidBuildSpec');
      if (!existsSync(join(context, dockerfile))) {
        throw ApplicationFailure.nonRetryable(`no ${input.dockerfilePath} at commit ${input.commit.slice(0, 12)}`, 'InvalidBuildSpec');
      }
      await writer.write('system', `building ${image} from ${input.buildContext} with ${input.dockerfilePath}\n`);

      // tar-fs's Pack is a readable stream; its typings predate Node's stream interface.
      const tar = pack(context, { ignore: (name) => relative(context, name).split(/[\\/]/)[0] === '.git' }) as unknown as NodeJS.ReadableStream;
      const stream = await docker.buildImage(tar, {
        t: image,
        dockerfile,
        // A step the engine was stopped in may have left a partial layer in its cache.
        nocache: Context.current().info.attempt > 1,
        labels: { [DockerLabel.managed]: 'true', [DockerLabel.tenant]: input.tenantId, [AppLabel.app]: input.appId, [AppLabel.commit]: input.commit },
      });
      const failure = await followBuild(docker, stream, writer);
      // An engine that is stopping fails the build it runs with errors that read like the
      // Dockerfile's ("failed to copy files", a step killed with code 137), or ends its stream as
      // if it had finished. So a build is believed to have failed only when the engine still
      // answers and the build failed again on a later attempt, from scratch.
      if (!(await docker.ping().then(() => true, () => false))) throw new Error(`the build of ${image} was interrupted: the Docker engine stopped answering`);
      if (failure && Context.current().info.attempt === 1) throw new Error(`build failed: ${failure} (building once more from scratch before believing it)`);
      if (failure) throw ApplicationFailure.nonRetryable(`build failed: ${failure}`, 'BuildFailed');
      if (!(await imageExists(image))) throw new Error(`the build of ${image} ended before the image was tagged`);
      await removeBuildLeftovers(image, writer);
      return { image, reused: false };
    },

    /** Whether the image is still on this node (a rollback reuses it). */
    async hasImage({ image }: { image: string }): Promise<boolean> {
      return imageExists(image);
    },

    /**
     * Runs the release's container beside whatever serves now, its port published on loopback
     * only (the edge proxy is on the same host). Returns where the proxy reaches it.
     *
     * The host port is chosen here and pinned in the container's config: a port Docker picks is
     * picked again when the engine restarts the container (after an engine restart), and the
     * proxy's route would point at nothing. A port taken between choice and start is chosen again.
     */
    async startRelease(input: ReleaseContainer): Promise<{ containerName: string; upstream: string }> {
      const name = releaseContainerName(input.releaseId);
      let container: Docker.Container;
      for (let attempt = 1; ; attempt++) {
        const existing = await findRelease(input.releaseId);
        container = existing
          ? docker.getContainer(existing.Id)
          : await docker.createContainer({
              name,
              Image: input.image,
              Env: Object.entries(input.envSealed ? (JSON.parse(decryptSecret(keys, input.envSealed)) as Record<string, string>) : {}).map(([k, v]) => `${k}=${v}`),
              ExposedPorts: { [`${input.containerPort}/tcp`]: {} },
              Labels: {
                [DockerLabel.managed]: 'true',
                [DockerLabel.tenant]: input.tenantId,
                [AppLabel.app]: input.appId,
                [AppLabel.release]: input.releaseId,
              },
              HostConfig: {
                PortBindings: { [`${input.containerPort}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(await freeLoopbackPort()) }] },
                RestartPolicy: { Name: 'unless-stopped' },
              },
            });
        try {
          if (!(await container.inspect()).State.Running) await container.start();
          break;
        } catch (err) {
          if (attempt >= 3 || !PORT_TAKEN.test((err as Error).message)) throw err;
          await container.remove({ force: true });
        }
      }
      const upstream = upstreamOf(await container.inspect(), input.containerPort);
      if (!upstream) {
        // An exited container has no published ports: say why it is not running.
        const trouble = await containerTrouble(input.releaseId);
        if (trouble) {
          await runLog.forCurrentActivity(input.tenantId).write('stderr', await lastLogLines(input.releaseId));
          throw ApplicationFailure.nonRetryable(`the new release is not running: ${trouble}`, 'ContainerExited');
        }
        throw ApplicationFailure.nonRetryable(`release container has no published port ${input.containerPort}`, 'ContainerStartFailed');
      }
      return { containerName: name, upstream };
    },

    /**
     * Probes the release until it passes `passes` times in a row, or fails for good when its
     * container stops or the timeout passes (with the container's last output on the stream).
     */
    async checkHealth(input: HealthInput): Promise<{ passes: number; ms: number }> {
      const writer = runLog.forCurrentActivity(input.tenantId);
      const { path, expectedStatus, passes: needed, timeoutSeconds } = input.health;
      const started = Date.now();
      const deadline = started + timeoutSeconds * 1000;
      let passes = 0;
      let last = '';
      await writer.write('system', `health check: GET ${path} → ${expectedStatus}, ${needed} in a row within ${timeoutSeconds}s\n`);
      while (passes < needed) {
        heartbeat();
        const trouble = await containerTrouble(input.releaseId);
        if (trouble) {
          await writer.write('stderr', await lastLogLines(input.releaseId));
          throw ApplicationFailure.nonRetryable(`the new release is not running: ${trouble}`, 'ContainerExited');
        }
        const { status, error } = await probe(input.upstream, path);
        const observed = status === null ? `no answer (${error})` : `HTTP ${status}`;
        if (observed !== last) await writer.write('system', `health check: ${observed}\n`);
        last = observed;
        passes = status === expectedStatus ? passes + 1 : 0;
        if (passes >= needed) break;
        if (Date.now() > deadline) {
          throw ApplicationFailure.nonRetryable(`health check did not pass within ${timeoutSeconds}s: GET ${path} gave ${observed}, expected ${expectedStatus}`, 'HealthCheckFailed');
        }
        await sleep(input.intervalMs ?? 500);
      }
      await writer.write('system', `health check passed ${passes} times in a row\n`);
      return { passes, ms: Date.now() - started };
    },

    /**
     * Points the app's hostname at `upstream` in one proxy change; returns what it pointed at.
     * An app suspended meanwhile keeps its suspended page: the release goes live behind it and
     * is served once the suspension is lifted (the suspension run switches to it then).
     */
    async switchTraffic({ appId, hostname, upstream }: { appId: string; hostname: string; upstream: string }): Promise<{ previous: string | null }> {
      await proxy.ensureServer();
      const reasons = await suspensionOf(appId);
      if (reasons.length) {
        await proxy.setStaticRoute({ id: appRouteId(appId), hosts: [hostname], ...suspendedPage(reasons) });
        return { previous: null };
      }
      return proxy.setRoute({ id: appRouteId(appId), hosts: [hostname], upstream });
    },

    /** Answers the app's hostname with the suspended page instead of its release (a suspension). */
    async suspendAppRoute({ appId, hostname, reasons = [] }: { appId: string; hostname: string; reasons?: SuspensionReason[] }): Promise<void> {
      await proxy.ensureServer();
      await proxy.setStaticRoute({ id: appRouteId(appId), hosts: [hostname], ...suspendedPage(reasons) });
    },

    /** Removes the app's route (an app with nothing serving answers the proxy's 404). */
    async removeRoute({ appId }: { appId: string }): Promise<void> {
      await proxy.removeRoute(appRouteId(appId));
    },

    /**
     * Watches a release that now serves traffic for `seconds`; fails for good as soon as its
     * container stops or it misses `failuresToTrip` probes in a row. Resumes its window after a
     * worker restart (the deadline is in the heartbeat).
     */
    async watchRelease(input: WatchInput): Promise<{ probes: number }> {
      const writer = runLog.forCurrentActivity(input.tenantId);
      const resumed = Context.current().info.heartbeatDetails as { until?: number } | undefined;
      const until = resumed?.until ?? Date.now() + input.seconds * 1000;
      const trip = input.failuresToTrip ?? 3;
      let failures = 0;
      let probes = 0;
      await writer.write('system', `watching the new release for ${input.seconds}s\n`);
      while (Date.now() < until) {
        heartbeat({ until });
        const trouble = await containerTrouble(input.releaseId);
        if (trouble) {
          await writer.write('stderr', await lastLogLines(input.releaseId));
          throw ApplicationFailure.nonRetryable(`the new release stopped serving: ${trouble}`, 'ReleaseUnhealthy');
        }
        const { status, error } = await probe(input.upstream, input.health.path);
        probes++;
        failures = status === input.health.expectedStatus ? 0 : failures + 1;
        if (failures >= trip) {
          const observed = status === null ? `no answer (${error})` : `HTTP ${status}`;
          throw ApplicationFailure.nonRetryable(`the new release stopped answering: ${trip} probes in a row gave ${observed}`, 'ReleaseUnhealthy');
        }
        await sleep(input.intervalMs ?? 500);
      }
      return { probes };
    },

    /** Stops and removes a release's container (its image stays for rollbacks). Gone is fine. */
    async removeRelease({ releaseId, stopSeconds = 10 }: { releaseId: string; stopSeconds?: number }): Promise<void> {
      const info = await findRelease(releaseId);
      if (!info) return;
      const container = docker.getContainer(info.Id);
      try {
        if (info.State === 'running' || info.State === 'restarting') await container.stop({ t: stopSeconds });
      } catch (err) {
        if (statusOf(err) !== 304 && statusOf(err) !== 404) throw err;
      }
      try {
        await container.remove({ force: true });
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    },
  };
}

export type DeployActivities = ReturnType<typeof createDeployActivities>;

/** Where a running release container's port is published on loopback, or null. */
function upstreamOf(info: Docker.ContainerInspectInfo, containerPort: number): string | null {
  const ports = info.NetworkSettings.Ports?.[`${containerPort}/tcp`];
  const hostPort = ports?.find((p) => p.HostIp === '127.0.0.1')?.HostPort ?? ports?.[0]?.HostPort;
  return hostPort ? `127.0.0.1:${hostPort}` : null;
}

/** Where a release's container is published now; null when it is not running. */
export async function publishedUpstream(docker: Docker, releaseId: string, containerPort: number): Promise<string | null> {
  const [info] = await docker.listContainers({ filters: { label: [`${AppLabel.release}=${releaseId}`] } });
  return info ? upstreamOf(await docker.getContainer(info.Id).inspect(), containerPort) : null;
}

/** A path inside the checkout; a setting that points outside it is refused. */
function inside(root: string, path: string, setting: string): string {
  const full = resolve(root, path);
  const rel = relative(root, full);
  if (isAbsolute(path) || rel.startsWith('..')) throw ApplicationFailure.nonRetryable(`${setting} must stay inside the repository`, 'InvalidBuildSpec');
  return full;
}

/** Streams Docker's build progress to the run; resolves with the build's error message, if any. */
async function followBuild(docker: Docker, stream: NodeJS.ReadableStream, writer: RunLogWriter): Promise<string | null> {
  let failure: string | null = null;
  let pending = Promise.resolve();
  await new Promise<void>((done, fail) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? fail(err) : done()),
      (event: { stream?: string; error?: string; errorDetail?: { message?: string } }) => {
        heartbeat();
        if (event.error) failure = event.errorDetail?.message ?? event.error;
        const text = event.stream ?? (event.error ? `${event.error}\n` : '');
        if (text) pending = pending.then(() => writer.write(event.error ? 'stderr' : 'stdout', text));
      },
    );
  });
  await pending;
  return failure;
}

/** Docker's multiplexed log format (8-byte frame headers) to plain text. */
function demux(buf: Buffer): string {
  let out = '';
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return out || buf.toString('utf8');
}

/** A loopback port that nothing listens on at this moment. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}
