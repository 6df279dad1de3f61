import { DockerLabel } from '@keelson/common/constants';
import type { PortMapping, VolumeMount } from '@keelson/db/schema';
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import type { RunLog } from '../db/run-log';

/** Everything Docker needs to create a container; env values are already decrypted. */
export interface DockerContainerSpec {
  tenantId: string;
  containerId: string;
  name: string;
  image: string;
  command: string[];
  ports: PortMapping[];
  volumes: VolumeMount[];
  env: Record<string, string>;
  cpuLimit: number | null;
  memoryLimitMb: number | null;
}

interface ContainerRef {
  containerId: string;
}

/** Docker's own container name for a Keelson container. */
export const dockerName = (containerId: string) => `keelson-${containerId}`;

/**
 * Host-bound activities, registered by the worker of one Docker node on its own task queue.
 * Each is safe to run again: they look containers up by Keelson's label before acting.
 */
export function createDockerActivities({ docker, runLog }: { docker: Docker; runLog: RunLog }) {
  async function find(containerId: string): Promise<Docker.ContainerInfo | undefined> {
    const list = await docker.listContainers({
      all: true,
      filters: { label: [`${DockerLabel.container}=${containerId}`] },
    });
    return list[0];
  }

  async function require(containerId: string): Promise<Docker.Container> {
    const info = await find(containerId);
    if (!info) throw ApplicationFailure.nonRetryable(`container ${containerId} does not exist on this node`, 'ContainerNotFound');
    return docker.getContainer(info.Id);
  }

  const activities = {
    /** Fails without retry when the image is neither on the node nor pullable. */
    async ensureImage({ image }: { image: string }): Promise<{ imageId: string }> {
      try {
        const info = await docker.getImage(image).inspect();
        return { imageId: info.Id };
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
      try {
        const stream = await docker.pull(image);
        await new Promise<void>((resolve, reject) =>
          docker.modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve())),
        );
        return { imageId: (await docker.getImage(image).inspect()).Id };
      } catch (err) {
        throw ApplicationFailure.nonRetryable(
          `image "${image}" is not on this node and could not be pulled: ${messageOf(err)}`,
          'ImageNotFound',
        );
      }
    },

    /** Creates the container, or adopts the one a previous attempt created. */
    async createContainer(spec: DockerContainerSpec): Promise<{ dockerId: string; adopted: boolean }> {
      const existing = await find(spec.containerId);
      if (existing) return { dockerId: existing.Id, adopted: true };
      try {
        const created = await docker.createContainer(toCreateOptions(spec));
        return { dockerId: created.id, adopted: false };
      } catch (err) {
        if (statusOf(err) === 409) {
          const raced = await find(spec.containerId);
          if (raced) return { dockerId: raced.Id, adopted: true };
        }
        if (statusOf(err) === 400 || statusOf(err) === 404) {
          throw ApplicationFailure.nonRetryable(`Docker refused the container: ${messageOf(err)}`, 'InvalidContainerSpec');
        }
        throw err;
      }
    },

    /**
     * Starts the container; given its spec, first re-creates it if it is missing, so a run
     * retried after its compensation removed the container converges instead of failing.
     */
    async startContainer({ containerId, spec }: ContainerRef & { spec?: DockerContainerSpec }): Promise<void> {
      if (spec && !(await find(containerId))) await activities.createContainer(spec);
      const container = await require(containerId);
      try {
        await container.start();
      } catch (err) {
        if (statusOf(err) === 304) return; // already running
        const message = messageOf(err);
        if (/port is already allocated|address already in use/i.test(message)) {
          throw ApplicationFailure.nonRetryable(`a host port of this container is already taken: ${message}`, 'PortInUse');
        }
        if (statusOf(err) === 400 || statusOf(err) === 500) {
          throw ApplicationFailure.nonRetryable(`Docker could not start the container: ${message}`, 'ContainerStartFailed');
        }
        throw err;
      }
    },

    async stopContainer({ containerId, timeoutSeconds }: ContainerRef & { timeoutSeconds: number }): Promise<void> {
      const container = await require(containerId);
      try {
        await container.stop({ t: timeoutSeconds });
      } catch (err) {
        if (statusOf(err) !== 304) throw err; // 304: already stopped
      }
    },

    async restartContainer({ containerId, timeoutSeconds }: ContainerRef & { timeoutSeconds: number }): Promise<void> {
      await (await require(containerId)).restart({ t: timeoutSeconds });
    },

    /** Removes the container and its anonymous volumes; a container already gone is success. */
    async removeContainer({ containerId }: ContainerRef): Promise<void> {
      const info = await find(containerId);
      if (!info) return;
      try {
        await docker.getContainer(info.Id).remove({ force: true, v: true });
      } catch (err) {
        if (statusOf(err) !== 404 && !/removal .* already in progress/i.test(messageOf(err))) throw err;
      }
    },

    /**
     * Follows the container's output for a while and appends it to the run's output. A retried
     * attempt resumes from the time its previous attempt had reached.
     */
    async captureContainerLogs({
      tenantId,
      containerId,
      seconds,
    }: ContainerRef & { tenantId: string; seconds: number }): Promise<{ bytes: number }> {
      const ctx = Context.current();
      const container = await require(containerId);
      const resumeFrom = (ctx.info.heartbeatDetails as { since?: number } | undefined)?.since ?? 0;
      const writer = runLog.forCurrentActivity(tenantId);
      const raw = (await container.logs({ follow: true, stdout: true, stderr: true, since: resumeFrom, timestamps: false })) as NodeJS.ReadableStream;
      const tty = (await container.inspect()).Config.Tty;
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      if (tty) raw.pipe(stdout);
      else docker.modem.demuxStream(raw, stdout, stderr);

      let bytes = 0;
      let pending = Promise.resolve();
      const forward = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
        bytes += chunk.length;
        const text = chunk.toString('utf8');
        pending = pending.then(() => writer.write(stream, text));
      };
      stdout.on('data', forward('stdout'));
      stderr.on('data', forward('stderr'));

      const deadline = Date.now() + seconds * 1000;
      await new Promise<void>((resolve) => {
        const tick = setInterval(() => {
          heartbeat({ since: Math.floor(Date.now() / 1000) });
          if (Date.now() >= deadline || ctx.cancellationSignal.aborted) finish();
        }, 250);
        const finish = () => {
          clearInterval(tick);
          (raw as unknown as { destroy?: () => void }).destroy?.();
          resolve();
        };
        raw.on('end', finish);
        raw.on('error', finish);
      });
      await pending;
      return { bytes };
    },
  };
  return activities;
}

export type DockerActivities = ReturnType<typeof createDockerActivities>;

function toCreateOptions(spec: DockerContainerSpec): Docker.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostPort: string }>> = {};
  for (const p of spec.ports) {
    const key = `${p.container}/${p.protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostPort: String(p.host) });
  }
  return {
    name: dockerName(spec.containerId),
    Image: spec.image,
    Cmd: spec.command.length ? spec.command : undefined,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    ExposedPorts: exposed,
    Labels: {
      [DockerLabel.managed]: 'true',
      [DockerLabel.tenant]: spec.tenantId,
      [DockerLabel.container]: spec.containerId,
      'io.keelson.name': spec.name,
    },
    HostConfig: {
      PortBindings: bindings,
      Binds: spec.volumes.map((v) => `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`),
      NanoCpus: spec.cpuLimit ? Math.round(spec.cpuLimit * 1e9) : undefined,
      Memory: spec.memoryLimitMb ? spec.memoryLimitMb * 1024 * 1024 : undefined,
      RestartPolicy: { Name: 'unless-stopped' },
    },
  };
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

function messageOf(err: unknown): string {
  const e = err as { json?: { message?: string }; reason?: string; message?: string };
  return e.json?.message ?? e.message ?? String(err);
}
