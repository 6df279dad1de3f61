import { deleteMonitoringSchedules, ensureMonitoringSchedules } from '@keelson/activities';
import { signWebhook } from '@keelson/activities/monitoring/alerts';
import { encryptSecret } from '@keelson/common/codec';
import { MonitoringSchedule } from '@keelson/common/constants';
import { alertNotifications, alertRules, alerts, monitoredResources, proxmoxClusters } from '@keelson/db/schema';
import { loadControl, MemoryGuests, startProxmoxSim, type ProxmoxSim } from '@keelson/proxmox-sim';
import proto from '@temporalio/proto';
import { and, eq } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPlatform, TEST_KEYS, type TestPlatform } from './platform';

/**
 * A monitored world for alerting tests: the platform (own database, Temporal, task queue), a
 * Proxmox simulator with in-memory guests registered as a cluster of one organization, a webhook
 * receiver that checks every delivery's signature, and monitoring schedules at test speed.
 */

export const TOKEN_ID = 'root@pam!keelson';

export interface Delivery {
  id: string;
  event: string;
  signatureOk: boolean;
  body: { id: string; event: string; sequence: number; createdAt: string; alert: { id: string; resourceName: string; ruleName: string; summary: string } };
  receivedAt: number;
}

export interface MonitoringHarness {
  platform: TestPlatform;
  /** Replaceable: a test may stop it and start another on the same port and state. */
  sim: ProxmoxSim;
  simStateDir: string;
  load: ReturnType<typeof loadControl>;
  tenantId: string;
  clusterId: string;
  webhook: { url: string; secret: string; deliveries: Delivery[]; failNext(n: number): void; close(): Promise<void> };
  /** Clones template 9000 into a running VM with this vmid; returns nothing (the collector finds it). */
  addGuest(vmid: number, opts?: { name?: string; tags?: string }): Promise<void>;
  /** The monitored resource of a guest, once a collection has seen it. */
  guestResource(vmid: number, timeoutMs?: number): Promise<{ id: string; name: string }>;
  createRule(values: Partial<typeof alertRules.$inferInsert> & { name: string }): Promise<string>;
  alertsOf(ruleId: string): Promise<Array<typeof alerts.$inferSelect>>;
  notificationsOf(ruleId: string): Promise<Array<typeof alertNotifications.$inferSelect>>;
  schedules(opts: { collectEveryMs: number; evaluateEveryMs: number; paused?: boolean }): Promise<void>;
  /** Resolves once a collection round has a cluster's collection running on a worker (to kill it there). */
  collectionInFlight(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startMonitoringHarness(): Promise<MonitoringHarness> {
  const platform = await createTestPlatform();
  const tenant = await platform.createTenant();
  const dir = await mkdtemp(join(tmpdir(), 'keelson-monitoring-'));
  const sim = await startProxmoxSim({ stateDir: join(dir, 'sim'), timeScale: 0, tokens: [{ tokenid: TOKEN_ID }], guests: new MemoryGuests() });
  const [cluster] = await platform.db
    .insert(proxmoxClusters)
    .values({ tenantId: tenant.id, name: `pve-${randomBytes(3).toString('hex')}`, url: sim.url, tokenId: TOKEN_ID, tokenSecretSealed: encryptSecret(TEST_KEYS, sim.tokens[0]!.secret), caPem: sim.caPem })
    .returning({ id: proxmoxClusters.id });

  const secret = randomBytes(16).toString('hex');
  const deliveries: Delivery[] = [];
  let failures = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failures > 0) {
        failures--;
        res.writeHead(503).end('try later');
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      const header = String(req.headers['x-keelson-signature'] ?? '');
      const t = Number(/t=(\d+)/.exec(header)?.[1]);
      deliveries.push({ id: String(req.headers['x-keelson-delivery']), event: String(req.headers['x-keelson-event']), signatureOk: header === signWebhook(secret, raw, t), body: JSON.parse(raw), receivedAt: Date.now() });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const webhookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/keelson`;
  const api = async (method: string, path: string, params: Record<string, string | number> = {}) => {
    const body = new URLSearchParams(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])));
    const res = await sim.fetch(`${sim.url}/api2/json${path}`, {
      method,
      headers: { authorization: `PVEAPIToken=${TOKEN_ID}=${sim.tokens[0]!.secret}`, 'content-type': 'application/x-www-form-urlencoded' },
      ...(method === 'GET' ? {} : { body }),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${res.statusText}`);
    return ((await res.json()) as { data: unknown }).data;
  };

  const h: MonitoringHarness = {
    platform,
    sim,
    simStateDir: join(dir, 'sim'),
    load: loadControl(sim),
    tenantId: tenant.id,
    clusterId: cluster!.id,
    webhook: { url: webhookUrl, secret, deliveries, failNext: (n) => void (failures = n), close: () => new Promise((r) => server.close(() => r())) },
    async addGuest(vmid, opts = {}) {
      await api('POST', '/nodes/pve/qemu/9000/clone', { newid: vmid, name: opts.name ?? `vm-${vmid}` });
      await sim.control.waitIdle();
      if (opts.tags) await api('PUT', `/nodes/pve/qemu/${vmid}/config`, { tags: opts.tags });
      await api('POST', `/nodes/pve/qemu/${vmid}/status/start`);
      await sim.control.waitIdle();
    },
    async guestResource(vmid, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [row] = await platform.db
          .select({ id: monitoredResources.id, name: monitoredResources.name })
          .from(monitoredResources)
          .where(and(eq(monitoredResources.tenantId, tenant.id), eq(monitoredResources.kind, 'guest'), eq(monitoredResources.key, `${cluster!.id}/${vmid}`)));
        if (row) return row;
        if (Date.now() > deadline) throw new Error(`guest ${vmid} was never collected`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async createRule(values) {
      const [row] = await platform.db
        .insert(alertRules)
        .values({ tenantId: tenant.id, metric: 'cpu_percent', scope: { type: 'cluster', clusterId: cluster!.id }, comparison: '>', threshold: 80, clearThreshold: 60, ...values })
        .returning({ id: alertRules.id });
      return row!.id;
    },
    alertsOf: (ruleId) => platform.db.select().from(alerts).where(eq(alerts.ruleId, ruleId)),
    notificationsOf: async (ruleId) =>
      (await platform.db.select({ n: alertNotifications }).from(alertNotifications).innerJoin(alerts, eq(alerts.id, alertNotifications.alertId)).where(eq(alerts.ruleId, ruleId))).map((r) => r.n),
    async schedules(opts) {
      await ensureMonitoringSchedules(platform.temporal, { coreTaskQueue: platform.coreTaskQueue, collectEveryMs: opts.collectEveryMs, evaluateEveryMs: opts.evaluateEveryMs, nodeTimeoutMs: 2000, paused: opts.paused });
    },
    async collectionInFlight(timeoutMs = 30_000) {
      const schedule = platform.temporal.schedule.getHandle(MonitoringSchedule.collect(platform.coreTaskQueue));
      await eventually(
        'a collection round with its cluster activity running',
        async () => {
          for (const action of (await schedule.describe()).info.runningActions) {
            const run = await platform.temporal.workflow.getHandle(action.workflow.workflowId, action.workflow.firstExecutionRunId).describe();
            if ((run.raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'collectProxmoxCluster' && a.state === proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED)) return true;
          }
          return false;
        },
        timeoutMs,
        10,
      );
    },
    async close() {
      await deleteMonitoringSchedules(platform.temporal, platform.coreTaskQueue).catch(() => undefined);
      // Alert workflows wait on timers for good; nothing will serve this file's queue again.
      for await (const run of platform.temporal.workflow.list({ query: `KeelsonTenant = '${tenant.id}' AND ExecutionStatus = 'Running'` })) {
        await platform.temporal.workflow.getHandle(run.workflowId, run.runId).terminate('test over').catch(() => undefined);
      }
      await h.webhook.close();
      await platform.close();
      await h.sim.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** The webhook secret as a rule stores it (sealed). */
export const sealedSecret = (secret: string) => encryptSecret(TEST_KEYS, secret);

/** Polls until `check` returns something truthy. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
