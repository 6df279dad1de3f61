import type { AlertCarried } from '@keelson/activities/monitoring/types';
import { WorkflowId, WorkflowType } from '@keelson/common/constants';
import { MemoryGuests, startProxmoxSim } from '@keelson/proxmox-sim';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startMonitoringHarness, TOKEN_ID, type MonitoringHarness } from './monitoring-harness';
import type { SignedIn } from './platform';
import { startSmtpReceiver, type ReceivedEmail, type SmtpReceiver } from './smtp';
import { workerProcesses } from './worker-process';

/**
 * Alerting end to end against the Proxmox simulator: the real worker process (SIGKILLed on
 * purpose), Temporal Schedules collecting and evaluating every second, rules and silences made
 * through the API, a webhook receiver that checks signatures and a real SMTP receiver for the
 * emails (sent through the shared mail module with the organization's SMTP settings). Every duration is a rule's or a
 * schedule's, scaled down: a 5-second `for`, one-second intervals.
 */

let h: MonitoringHarness;
let admin: SignedIn;
let smtp: SmtpReceiver;
const ONCALL = 'oncall@hoster.test';
const workers = workerProcesses(() => h.platform);
let worker: ChildProcess;
const INTERVAL_MS = 1000;

const startWorker = async () => {
  worker = await workers.start({ KEELSON_ALERT_EVALUATE_MS: String(INTERVAL_MS) });
};

async function api<T>(path: string, init: { method?: string; body?: unknown } = {}, expected?: number): Promise<T> {
  const res = await h.platform.request(`/api/monitoring${path}`, { method: init.method, headers: admin.headers, body: init.body });
  const text = await res.text();
  if (expected !== undefined ? res.status !== expected : res.status >= 300) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

interface Alert {
  id: string;
  state: string;
  suppressedBy: string | null;
  kind: string;
  resourceName: string | null;
}
const alertsOf = async (ruleId: string) => (await api<{ items: Alert[] }>(`/alerts?ruleId=${ruleId}`)).items;
const emailsAbout = (resourceName: string, what: 'FIRING' | 'RESOLVED') => smtp.messages.filter((m) => m.subject.startsWith(`[${what}]`) && m.subject.endsWith(`: ${resourceName}`) && m.to.includes(ONCALL));
const deliveriesOf = (ruleName: string, event?: string) => h.webhook.deliveries.filter((d) => d.body.alert.ruleName === ruleName && (!event || d.event === event));

/**
 * The one notification behind what a receiver got. Neither SMTP nor a plain HTTP POST can be made
 * idempotent by the sender: a worker killed after the receiver accepted a message and before the
 * send was recorded sends it again. Exactly once is by construction — the resend is the same
 * message under the same Message-ID (delivery id for webhooks), which mail clients and webhook
 * consumers collapse — so a copy must be identical, never a second notification.
 */
function oneOf<T>(copies: T[], identity: (copy: T) => string): T {
  expect(copies.length).toBeGreaterThanOrEqual(1);
  expect(new Set(copies.map(identity)).size).toBe(1);
  return copies[0]!;
}
const oneEmail = (copies: ReceivedEmail[]) => oneOf(copies, (m) => `${m.messageId}\n${m.subject}\n${m.text}`);
const oneDelivery = (copies: typeof h.webhook.deliveries) => oneOf(copies, (d) => `${d.id}\n${JSON.stringify(d.body)}`);

async function cpuRule(name: string, resourceId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const rule = await api<{ id: string }>('/rules', {
    method: 'POST',
    body: {
      name,
      metric: 'cpu_percent',
      scope: { type: 'resource', resourceId },
      comparison: '>',
      threshold: 80,
      clearThreshold: 60,
      forSeconds: 5,
      severity: 'critical',
      emails: [ONCALL],
      webhookUrl: h.webhook.url,
      webhookSecret: h.webhook.secret,
      noData: 'ignore',
      ...extra,
    },
  });
  return rule.id;
}

/**
 * Sets a guest's CPU and waits until its alert's run has been handed an observation of it (a
 * sample taken, then evaluated). A test that flips values on the wall clock assumes a collection
 * and an evaluation within each second; under load a round takes longer, two flips fall between
 * two evaluations, and the alert sees one value held longer than the test meant. Waiting for the
 * run to see each value makes every cycle of a flapping metric one the alert really saw.
 */
async function cpuSeen(vmid: number, ruleId: string, resourceId: string, cpu: number) {
  await h.load.set(vmid, { cpu });
  const run = h.platform.temporal.workflow.getHandle(WorkflowId.alert(ruleId, resourceId));
  await eventually(`the alert's run seeing cpu ${cpu * 100} %`, async () => {
    const state = (await run.query('alertState').catch(() => null)) as AlertCarried | null;
    return state?.last?.value != null && Math.abs(state.last.value - cpu * 100) < 1;
  }, 30_000, 50);
}

beforeAll(async () => {
  h = await startMonitoringHarness();
  admin = await h.platform.signIn({ tenantId: h.tenantId, role: 'admin' });
  smtp = await startSmtpReceiver();
  const settings = await h.platform.request('/api/mail/smtp', { method: 'PUT', headers: admin.headers, body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'alerts@hoster.test', fromName: 'Hoster alerts' } });
  expect(settings.status).toBe(200);
  await startWorker();
  for (const vmid of [100, 101, 102, 103]) await h.addGuest(vmid, { name: `guest-${vmid}` });
  await h.schedules({ collectEveryMs: INTERVAL_MS, evaluateEveryMs: INTERVAL_MS });
  for (const vmid of [100, 101, 102, 103]) await h.guestResource(vmid);
}, 180_000);

afterAll(async () => {
  await workers.killAll();
  await h?.close();
  await smtp?.close();
});

describe('alerts of a guest on the Proxmox simulator', () => {
  it(
    'CPU over a 5-second for: exactly one firing and one resolved email and webhook, with the worker SIGKILLed while pending, firing and resolving and three evaluations racing',
    { timeout: 300_000 },
    async () => {
      const guest = await h.guestResource(100);
      const name = `cpu-${randomBytes(3).toString('hex')}`;
      const ruleId = await cpuRule(name, guest.id);

      await h.load.set(100, { cpu: 0.95 });
      await eventually('the alert pending', async () => (await alertsOf(ruleId)).find((a) => a.state === 'pending'), 30_000);
      // Killed while pending; meanwhile three evaluation rounds race for the same alert.
      await workers.kill(worker);
      const racing = await Promise.all(
        [1, 2, 3].map((i) =>
          h.platform.temporal.workflow.start(WorkflowType.monitoringEvaluate, { taskQueue: h.platform.coreTaskQueue, workflowId: `race-${name}-${i}`, args: [] }),
        ),
      );
      await startWorker();
      await Promise.all(racing.map((r) => r.result()));

      await eventually('the alert firing', async () => (await alertsOf(ruleId)).find((a) => a.state === 'firing'), 60_000);
      // Killed while firing (the notification may be on its way), in the middle of a collection
      // round: the Schedule skips rounds while that one is open, so the next values (the drop
      // below) arrive only once Temporal gives up on the dead worker's activity.
      await h.collectionInFlight();
      await workers.kill(worker);
      await new Promise((r) => setTimeout(r, 1500));
      await startWorker();
      // Charts and alerts get values again within seconds of the restart, not once the dead
      // worker's activity times out.
      const restartedAt = Date.now();
      await eventually('a sample of the guest taken after the restart', async () => Date.parse((await api<{ lastSampleAt: string | null }>(`/resources/${guest.id}`)).lastSampleAt ?? '') > restartedAt, 30_000);
      await eventually('the firing webhook', async () => deliveriesOf(name, 'alert.firing').length > 0, 60_000);

      await h.load.set(100, { cpu: 0.1 });
      // Killed while resolving: the clear threshold is crossed and its 5-second hold runs.
      await new Promise((r) => setTimeout(r, 2500));
      expect((await alertsOf(ruleId)).map((a) => a.state)).toEqual(['firing']);
      await workers.kill(worker);
      await new Promise((r) => setTimeout(r, 1000));
      await startWorker();
      await eventually('the alert resolved', async () => (await alertsOf(ruleId)).find((a) => a.state === 'resolved'), 90_000).catch(async (err) => {
        // What the alert's run was waiting on, for whoever reads the failure.
        const open = (await alertsOf(ruleId))[0];
        if (open) {
          const handle = h.platform.temporal.workflow.getHandle(`alert/${ruleId}/${guest.id}`);
          const events = (await handle.fetchHistory()).events ?? [];
          process.stderr.write(`alert run: ${JSON.stringify(await handle.query('alertState').catch((e: Error) => e.message))}\nlast events: ${events.slice(-15).map((e) => e.eventType).join(', ')}\n`);
        }
        throw err;
      });
      // After a kill mid-send, the mail module waits out the dead attempt's claim (30 s) first.
      await eventually('the resolved webhook', async () => deliveriesOf(name, 'alert.resolved').length > 0, 90_000);
      // Nothing more comes: a few more rounds pass quietly.
      await new Promise((r) => setTimeout(r, 3 * INTERVAL_MS));

      const firing = oneDelivery(deliveriesOf(name, 'alert.firing'));
      const resolved = oneDelivery(deliveriesOf(name, 'alert.resolved'));
      // Exactly one firing and one resolved email at the SMTP receiver, each its own Message-ID.
      await smtp.waitFor(() => emailsAbout('guest-100', 'RESOLVED').length > 0, 90_000);
      const firingMail = oneEmail(emailsAbout('guest-100', 'FIRING'));
      const resolvedMail = oneEmail(emailsAbout('guest-100', 'RESOLVED'));
      expect(firingMail.subject).toBe(`[FIRING] [critical] ${name}: guest-100`);
      expect(firingMail.text).toContain('guest-100: cpu_percent is 95 (> 80 for 5s)');
      expect(firingMail.messageId).not.toBe(resolvedMail.messageId);
      expect(deliveriesOf(name).every((d) => d.signatureOk)).toBe(true);
      expect(firing.id).not.toBe(resolved.id);
      expect(firing.body.alert.id).toBe(resolved.body.alert.id);
      expect(firing.body.alert.summary).toMatch(/^guest-100: cpu_percent is 95 \(> 80 for 5s\)$/);
      const alerts = await alertsOf(ruleId);
      expect(alerts.map((a) => a.state)).toEqual(['resolved']);
      const detail = await api<{ notifications: Array<{ event: string; status: string; channel: string }> }>(`/alerts/${alerts[0]!.id}`);
      expect(detail.notifications.map((n) => [n.event, n.status, n.channel])).toEqual([
        ['firing', 'sent', `email:${ONCALL}`],
        ['firing', 'sent', 'webhook'],
        ['resolved', 'sent', `email:${ONCALL}`],
        ['resolved', 'sent', 'webhook'],
      ]);
    },
  );

  it('a metric flapping around both thresholds for many cycles: one firing and one resolved notification', { timeout: 240_000 }, async () => {
    const guest = await h.guestResource(101);
    const name = `flap-${randomBytes(3).toString('hex')}`;
    // A `for` of several evaluation intervals: the values flip as fast as the alert sees them.
    const ruleId = await cpuRule(name, guest.id, { forSeconds: 6 });
    // Around the threshold: 95 and 70 (between the thresholds), each seen and then replaced,
    // never held for 6 s.
    for (let i = 0; i < 8; i++) await cpuSeen(101, ruleId, guest.id, i % 2 ? 0.7 : 0.95);
    expect(deliveriesOf(name)).toHaveLength(0);
    await h.load.set(101, { cpu: 0.95 });
    await eventually('the firing webhook', async () => deliveriesOf(name, 'alert.firing').length > 0, 30_000);
    // Firing, then around the clear threshold: 95 and 30, each seen and replaced, never clears for 6 s.
    for (let i = 0; i < 10; i++) await cpuSeen(101, ruleId, guest.id, i % 2 ? 0.95 : 0.3);
    expect((await alertsOf(ruleId)).filter((a) => a.state === 'firing')).toHaveLength(1);
    await h.load.set(101, { cpu: 0.1 });
    await eventually('the resolved webhook', async () => deliveriesOf(name, 'alert.resolved').length > 0, 30_000);
    await new Promise((r) => setTimeout(r, 2 * INTERVAL_MS));
    expect(deliveriesOf(name, 'alert.firing')).toHaveLength(1);
    expect(deliveriesOf(name, 'alert.resolved')).toHaveLength(1);
    await smtp.waitFor(() => emailsAbout('guest-101', 'RESOLVED').length > 0, 30_000);
    expect(emailsAbout('guest-101', 'FIRING')).toHaveLength(1);
    expect(emailsAbout('guest-101', 'RESOLVED')).toHaveLength(1);
  });

  it('a silence that ends while the alert still fires: the held notification goes out when it ends, with no repeat interval to wait for', { timeout: 120_000 }, async () => {
    const guest = await h.guestResource(102);
    const name = `silenced-${randomBytes(3).toString('hex')}`;
    const ruleId = await cpuRule(name, guest.id, { forSeconds: 1 });
    // Silenced for long enough to see the alert fire under it however slow the machine is; once
    // it does, the silence is changed to end a few seconds from then (its timer, not a removal).
    const silence = await api<{ id: string }>('/silences', { method: 'POST', body: { matchers: { ruleId }, endsAt: new Date(Date.now() + 600_000).toISOString(), comment: 'planned load test' } }, 201);
    await h.load.set(102, { cpu: 0.97 });
    const held = await eventually('the alert firing, held by the silence', async () => (await alertsOf(ruleId)).find((a) => a.state === 'firing' && a.suppressedBy?.startsWith('silence ')), 60_000);
    expect(held).toBeDefined();
    const endsAt = new Date(Date.now() + 3_000);
    await api(`/silences/${silence.id}`, { method: 'PUT', body: { matchers: { ruleId }, endsAt: endsAt.toISOString(), comment: 'planned load test, over soon' } });
    // Still held until the silence ends.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(Date.now()).toBeLessThan(endsAt.getTime());
    expect(deliveriesOf(name)).toHaveLength(0);
    const delivery = await eventually('the firing webhook after the silence', async () => deliveriesOf(name, 'alert.firing')[0], 30_000);
    // The rule has no repeat interval, so nothing but the silence's end can send it: it goes out
    // on the silence's timer, a timer and two activities later (seconds on a machine as busy as
    // the whole suite makes it; the bound only rules out "never" and "at some later look").
    const decidedAt = Date.parse(delivery.body.createdAt);
    expect(decidedAt).toBeGreaterThanOrEqual(endsAt.getTime());
    expect(delivery.receivedAt - endsAt.getTime()).toBeLessThan(15 * INTERVAL_MS);
    expect((await alertsOf(ruleId))[0]!.suppressedBy).toBeNull();
    const mail = await smtp.waitForMessage((m) => m.subject.endsWith(': guest-102'), 10_000);
    expect(mail.receivedAt.getTime() - endsAt.getTime()).toBeLessThan(15 * INTERVAL_MS);
    await h.load.set(102, null);
  });

  it("the simulator's API down: one alert for the cluster, none per guest; back up: resolved", { timeout: 150_000 }, async () => {
    // Every guest has a rule that would raise "no data" once its samples stop.
    const nodataRule = await api<{ id: string }>('/rules', {
      method: 'POST',
      body: { name: `guests-${randomBytes(3).toString('hex')}`, metric: 'cpu_percent', scope: { type: 'cluster', clusterId: h.clusterId }, comparison: '>', threshold: 99, forSeconds: 1, noData: 'alert', noDataSeconds: 3, webhookUrl: h.webhook.url },
    });
    // The rule every organization gets for unreachable nodes and clusters, made quick and loud.
    const health = (await api<{ items: Array<Record<string, unknown> & { id: string; name: string }> }>('/rules')).items.find((r) => r.name === 'Node or cluster unreachable')!;
    expect(health).toBeDefined();
    const { id: _id, createdAt: _c, updatedAt: _u, webhookSigned: _w, ...body } = health;
    await api(`/rules/${health.id}`, { method: 'PUT', body: { ...body, forSeconds: 2, webhookUrl: h.webhook.url, webhookSecret: h.webhook.secret } });

    const { port } = new URL(h.sim.url);
    await h.sim.close();
    const firing = await eventually('the cluster alert firing', async () => (await alertsOf(health.id)).find((a) => a.state === 'firing'), 60_000);
    expect(firing.resourceName).toBeTruthy();
    // Long past the guests' no-data time: still nothing for them.
    await new Promise((r) => setTimeout(r, 6_000));
    expect(await alertsOf(nodataRule.id)).toEqual([]);
    const clusterAlerts = await alertsOf(health.id);
    expect(clusterAlerts.filter((a) => a.state === 'firing')).toHaveLength(1);
    expect(deliveriesOf('Node or cluster unreachable', 'alert.firing')).toHaveLength(1);

    // Back on the same port with the same state and token.
    h.sim = await startProxmoxSim({ stateDir: h.simStateDir, port: Number(port), timeScale: 0, tokens: [{ tokenid: TOKEN_ID, secret: h.sim.tokens[0]!.secret }], guests: new MemoryGuests() });
    await eventually('the cluster alert resolved', async () => (await alertsOf(health.id)).find((a) => a.state === 'resolved'), 60_000);
    await eventually('the resolved webhook', async () => deliveriesOf('Node or cluster unreachable', 'alert.resolved').length > 0, 30_000);
    expect(await alertsOf(nodataRule.id)).toEqual([]);
  });
});
