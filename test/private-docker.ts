import { pickFreeSubnet } from '@keelson/proxmox-sim/guests/docker';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';

/**
 * A Docker engine of the test's own, so a test can stop and start it mid-operation: its own data
 * and exec roots, pid file and socket, its own Linux bridge (a free 10.x.y.0/24) and no iptables
 * rules, so the machine's engine and its containers never notice. Published ports go through
 * Docker's userland proxy on loopback, as on any node. Nothing can be pulled: the images a test
 * needs are copied from the machine's engine.
 */
export interface PrivateDocker {
  docker: Docker;
  /** `unix://<socket>`, a node's endpoint. */
  endpoint: string;
  /** Stops the engine as a service manager would (SIGTERM; it stops its containers first). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops everything and removes its files and bridge. */
  remove(): Promise<void>;
}

export async function startPrivateDocker({ images, from }: { images: string[]; from: Docker }): Promise<PrivateDocker> {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-dockerd-'));
  const socket = join(dir, 'docker.sock');
  const bridge = `kbr${randomBytes(4).toString('hex')}`;
  const subnet = await pickFreeSubnet(from);
  execFileSync('ip', ['link', 'add', bridge, 'type', 'bridge']);
  execFileSync('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
  execFileSync('ip', ['link', 'set', bridge, 'up']);
  const docker = new Docker({ socketPath: socket });
  let engine: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const logFile = join(dir, 'dockerd.log');

  async function start() {
    const log = openSync(logFile, 'a');
    engine = spawn(
      'dockerd',
      [
        ...['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'dockerd.pid')],
        ...['-H', `unix://${socket}`, `--bridge=${bridge}`, '--iptables=false', '--ip6tables=false'],
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const child = engine;
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (await docker.ping().then(() => true, () => false)) return;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`private dockerd did not start:\n${readFileSync(logFile, 'utf8').slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function stop() {
    if (!engine || engine.exitCode !== null || engine.signalCode !== null) return;
    engine.kill('SIGTERM');
    const timer = setTimeout(() => engine?.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
  }

  await start();
  for (const image of images) {
    const archive = await from.getImage(image).get();
    await new Promise<void>((resolve, reject) =>
      docker.loadImage(archive, {}, (err, stream) => (err || !stream ? reject(err) : docker.modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve())))),
    );
  }

  return {
    docker,
    endpoint: `unix://${socket}`,
    start,
    stop,
    async remove() {
      if (engine?.exitCode === null) {
        for (const c of await docker.listContainers({ all: true }).catch(() => [])) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
      await stop();
      execFileSync('ip', ['link', 'del', bridge]);
      // A container the engine lost track of across a restart can leave its filesystem mounted.
      for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
        const target = line.split(' ')[1];
        if (target?.startsWith(`${dir}/`)) execFileSync('umount', ['-l', target]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
