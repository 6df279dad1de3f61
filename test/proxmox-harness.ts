import { createProxmoxActivities } from '@keelson/activities/proxmox/index';
import { createRunLog, createRunLogActivities } from '@keelson/activities/db/run-log';
import { keelsonDataConverter } from '@keelson/common/temporal';
import { createPostgresDataKeys } from '@keelson/db';
import { startProxmoxSim, type ProxmoxSim } from '@keelson/proxmox-sim';
import { DockerGuests, pickFreeSubnet } from '@keelson/proxmox-sim/guests/docker';
import { WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { workflowSinks } from '../workers/src/workers';
import { createTestPlatform, TEST_KEYS, type TestPlatform } from './platform';

const run = promisify(execFile);

export const TOKEN_ID = 'root@pam!keelson';
export const TEMPLATE_VMID = 9000;
export const OSTEMPLATE = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';

export interface KeyPair {
  publicKey: string;
  privateKey: string;
  file: string;
}

/**
 * Everything a Proxmox test file needs: the platform (own database, Temporal client), the
 * simulator with Docker-backed guests on a network of its own, key pairs, and a worker of its
 * own on its own task queue serving the Proxmox workflows and activities.
 */
export interface ProxmoxHarness {
  platform: TestPlatform;
  sim: ProxmoxSim;
  guests: DockerGuests;
  docker: Docker;
  tenantId: string;
  clusterId: string;
  taskQueue: string;
  /** The guest network's first three octets (`10.x.y`). */
  net: string;
  provisioningKey: KeyPair;
  adminKey: KeyPair;
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  /** Starts a workflow on the harness's queue with a unique id; resolves with its handle. */
  start<T>(workflowType: string, input: unknown, idPrefix?: string): Promise<{ workflowId: string; result(): Promise<T> }>;
  /** Runs a workflow to completion. */
  execute<T>(workflowType: string, input: unknown): Promise<T>;
  /** Runs a workflow expected to fail; returns the failure below WorkflowFailedError. */
  executeFailing(workflowType: string, input: unknown): Promise<Error & { type?: string; cause?: Error & { type?: string } }>;
  /** SSH to a guest and run a command; returns stdout. */
  ssh(host: string, user: string, key: KeyPair, command: string): Promise<string>;
  /** Guests of the simulator besides templates, and the Docker containers behind guests. */
  leftovers(): Promise<{ guests: Array<{ vmid: number; name?: string }>; containers: number[] }>;
  close(): Promise<void>;
}

export async function startProxmoxHarness(name: string): Promise<ProxmoxHarness> {
  const platform = await createTestPlatform();
  const tenant = await platform.createTenant();
  const docker = platform.docker;
  const suffix = randomBytes(3).toString('hex');
  const namespace = `${name}-${process.pid}-${suffix}`;
  const network = `keelson-pve-${namespace}`;
  const net = await pickFreeSubnet(docker);
  const dir = await mkdtemp(join(tmpdir(), `keelson-${name}-`));
  const guests = new DockerGuests({ docker, namespace, network, subnet: `${net}.0/24`, removeOnClose: true });
  const sim = await startProxmoxSim({ stateDir: join(dir, 'sim'), timeScale: 0.03, tokens: [{ tokenid: TOKEN_ID }], guests });
  const provisioningKey = await makeKey(dir, 'provisioning');
  const adminKey = await makeKey(dir, 'admin');

  const clusterId = `cluster-${suffix}`;
  const clusters = {
    async connect(id: string) {
      if (id !== clusterId) throw new Error(`unknown cluster ${id}`);
      return { url: sim.url, tokenId: TOKEN_ID, tokenSecret: sim.tokens[0]!.secret, caPem: sim.caPem };
    },
  };
  const runLog = createRunLog(platform.db);
  const taskQueue = `proxmox-${suffix}`;
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  let current: { worker: Worker; done: Promise<void> } | undefined;

  const harness: ProxmoxHarness = {
    platform,
    sim,
    guests,
    docker,
    tenantId: tenant.id,
    clusterId,
    taskQueue,
    net,
    provisioningKey,
    adminKey,
    async startWorker() {
      const worker = await Worker.create({
        connection,
        namespace: 'default',
        taskQueue,
        // The run's shared bundle (test/global-setup.ts), which holds every workflow.
        workflowBundle: { codePath: inject('workflowBundlePath') },
        dataConverter: keelsonDataConverter(TEST_KEYS, createPostgresDataKeys(platform.db, TEST_KEYS)),
        activities: { ...createProxmoxActivities({ clusters, runLog }), ...createRunLogActivities({ runLog }) },
        sinks: workflowSinks,
        // A stopped worker should give its activities back quickly, as a crashed one would.
        shutdownGraceTime: '1s',
      });
      current = { worker, done: worker.run() };
    },
    async stopWorker() {
      if (!current) return;
      if (current.worker.getState() === 'RUNNING') current.worker.shutdown();
      await current.done;
      current = undefined;
    },
    async start<T>(workflowType: string, input: unknown, idPrefix = workflowType) {
      const workflowId = `${idPrefix}/${randomBytes(4).toString('hex')}`;
      const handle = await platform.temporal.workflow.start(workflowType, { taskQueue, workflowId, args: [input], workflowExecutionTimeout: '5m' });
      return { workflowId, result: () => handle.result() as Promise<T> };
    },
    async execute<T>(workflowType: string, input: unknown) {
      return (await harness.start<T>(workflowType, input)).result();
    },
    async executeFailing(workflowType, input) {
      try {
        await harness.execute(workflowType, input);
      } catch (err) {
        if (err instanceof WorkflowFailedError && err.cause) return err.cause as Error & { type?: string; cause?: Error & { type?: string } };
        throw err;
      }
      throw new Error(`${workflowType} succeeded but was expected to fail`);
    },
    async ssh(host, user, key, command) {
      const { stdout } = await run('ssh', [
        ...['-i', key.file, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'],
        ...['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', '-o', 'IdentitiesOnly=yes'],
        `${user}@${host}`,
        command,
      ]);
      return stdout;
    },
    async leftovers() {
      const state = await sim.control.state();
      return {
        guests: state.guests.filter((g) => !g.template).map((g) => ({ vmid: g.vmid, name: g.name })),
        containers: await guests.list(),
      };
    },
    async close() {
      await harness.stopWorker().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await sim.close().catch(() => undefined);
      await guests.close().catch(() => undefined);
      // Whatever a failed test left behind: this file's guest containers, then its network.
      const left = await docker.listContainers({ all: true, filters: { label: [`io.keelson.pve-guest.namespace=${namespace}`] } });
      for (const c of left) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
      await docker.getNetwork(network).remove().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      await platform.close();
    },
  };
  await harness.startWorker();
  return harness;
}

async function makeKey(dir: string, name: string): Promise<KeyPair> {
  const file = join(dir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@keelson-test`, '-f', file]);
  return { file, privateKey: await readFile(file, 'utf8'), publicKey: (await readFile(`${file}.pub`, 'utf8')).trim() };
}
