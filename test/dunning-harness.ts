import { encryptSecret } from '@keelson/common/codec';
import { billingScheduleId } from '@keelson/common/constants';
import { startProxmoxSim, type ProxmoxSim } from '@keelson/proxmox-sim';
import { guests, invoices, proxmoxClusters, subscriptions } from '@keelson/db/schema';
import { and, eq, isNotNull } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, createCustomer, createPlan } from './billing-fixtures';
import { createTestPlatform, TEST_KEYS, type SignedIn, type TestPlatform } from './platform';
import { startSmtpReceiver, type SmtpReceiver } from './smtp';
import { until } from './worker-process';

const TOKEN_ID = 'root@pam!keelson';
const TEMPLATE_VMID = 9000;

/**
 * What the suspension and dunning suites share: a platform, an SMTP receiver, an organization
 * with billing and SMTP settings (payment due on the day of the invoice), the Proxmox simulator
 * (in-memory guests) registered as the organization's cluster, and customers whose subscription's
 * service is a running VM on it.
 */
export interface DunningWorld {
  p: TestPlatform;
  smtp: SmtpReceiver;
  sim: ProxmoxSim;
  tenantId: string;
  clusterId: string;
  billing: SignedIn;
  owner: SignedIn;
  /** A customer with a subscription whose service is a new running VM. */
  serviceWithVm(opts?: { startAt?: Date }): Promise<{ customerId: string; subscriptionId: string; guestId: string; vmid: number; resource: string }>;
  /** The simulator's view of a VM: its status and how many stop/start tasks it has had (the start that booted it not counted). */
  vm(vmid: number): Promise<{ status: string | undefined; stops: number; starts: number; exists: boolean }>;
  /** Starts the organization's billing run and waits until the subscription's invoice is finalized. */
  invoiceOf(subscriptionId: string): Promise<{ id: string; number: string }>;
  close(): Promise<void>;
}

/** The simulator's side of a dunning world, for a platform and organization made elsewhere (the browser tests' own). */
export type SimulatorServices = Pick<DunningWorld, 'sim' | 'clusterId' | 'serviceWithVm' | 'vm' | 'invoiceOf'> & { close(): Promise<void> };

/**
 * Starts the Proxmox simulator (in-memory guests), registers it as the organization's cluster and
 * returns how to make customers whose subscription's service is a running VM on it.
 */
export async function attachSimulatorServices(p: TestPlatform, tenantId: string, billing: SignedIn): Promise<SimulatorServices> {
  const dir = await mkdtemp(join(tmpdir(), 'keelson-dunning-sim-'));
  const sim = await startProxmoxSim({ stateDir: dir, timeScale: 0.02, tokens: [{ tokenid: TOKEN_ID }] });
  const [cluster] = await p.db
    .insert(proxmoxClusters)
    .values({ tenantId, name: `sim-${randomBytes(3).toString('hex')}`, url: sim.url, tokenId: TOKEN_ID, tokenSecretSealed: encryptSecret(TEST_KEYS, sim.tokens[0]!.secret), caPem: sim.caPem, fingerprint: sim.fingerprint, defaultTemplateVmid: TEMPLATE_VMID })
    .returning({ id: proxmoxClusters.id });
  const clusterId = cluster!.id;
  /** The simulator's Proxmox API, as a person with the cluster's token would call it. */
  const pve = async (method: string, path: string, form: Record<string, string>) => {
    const res = await sim.fetch(`${sim.url}/api2/json${path}`, {
      method,
      headers: { authorization: `PVEAPIToken=${TOKEN_ID}=${sim.tokens[0]!.secret}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  };
  const plan = await createPlan(p, billing, { kind: 'service' }, { monthlyMinor: 2500 });
  let nextVmid = 300;

  return {
    sim,
    clusterId,
    async serviceWithVm({ startAt = new Date(Date.now() - 2 * 86_400_000) } = {}) {
      const customer = await createCustomer(p, billing);
      const vmid = nextVmid++;
      const name = `vm-${vmid}`;
      await pve('POST', `/nodes/pve/qemu/${TEMPLATE_VMID}/clone`, { newid: String(vmid), name, full: '1' });
      await until('the clone', async () => (await sim.control.state()).guests.some((g) => g.vmid === vmid && !g.lock));
      await pve('POST', `/nodes/pve/qemu/${vmid}/status/start`, {});
      await until('the VM running', async () => (await sim.control.state()).guests.some((g) => g.vmid === vmid && g.status === 'running'));
      const [guest] = await p.db
        .insert(guests)
        .values({ tenantId, clusterId, kind: 'qemu', name, vmid, node: 'pve', cores: 1, memoryMiB: 512, adminUser: 'ops', state: 'running', workflowId: `test/${name}` })
        .returning({ id: guests.id });
      const sub = await api<{ id: string }>(p, billing, '/api/subscriptions', { body: { customerId: customer.id, planId: plan.planId, cycle: 'monthly', startAt: startAt.toISOString() } });
      const resource = `proxmox-guest:${guest!.id}`;
      await p.db.update(subscriptions).set({ resource }).where(eq(subscriptions.id, sub.id));
      return { customerId: customer.id, subscriptionId: sub.id, guestId: guest!.id, vmid, resource };
    },
    async vm(vmid) {
      const state = await sim.control.state();
      const g = state.guests.find((x) => x.vmid === vmid);
      // A stop is a shutdown task (Keelson shuts down first, and stops hard only if that fails).
      const done = (...types: string[]) => state.tasks.filter((t) => types.includes(t.type) && t.id === String(vmid) && t.status === 'stopped' && t.exitstatus === 'OK').length;
      return { status: g?.status, stops: done('qmshutdown', 'qmstop'), starts: done('qmstart') - 1, exists: !!g };
    },
    async invoiceOf(subscriptionId) {
      await api(p, billing, '/api/billing/schedule/trigger', { method: 'POST' });
      return until(
        'the subscription invoiced',
        async () => {
          const [inv] = await p.db
            .select({ id: invoices.id, number: invoices.number })
            .from(invoices)
            .where(and(eq(invoices.subscriptionId, subscriptionId), isNotNull(invoices.number)));
          return inv ? { id: inv.id, number: inv.number! } : undefined;
        },
        90_000,
      );
    },
    async close() {
      await p.temporal.schedule.getHandle(billingScheduleId(tenantId)).delete().catch(() => undefined);
      await sim.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function createDunningWorld(): Promise<DunningWorld> {
  const p = await createTestPlatform();
  const smtp = await startSmtpReceiver();
  const tenantId = (await p.createTenant()).id;
  const billing = await p.signIn({ tenantId, role: 'billing' });
  const owner = await p.signIn({ tenantId, role: 'owner' });
  await api(p, owner, '/api/mail/smtp', { method: 'PUT', body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'billing@hoster.test' } });
  await api(p, billing, '/api/billing/settings', { method: 'PUT', body: { legalName: 'Hoster Ltd', paymentTermsDays: 0, address: { line1: '1 Quay', postalCode: 'D01', city: 'Dublin', country: 'IE' } } });
  const services = await attachSimulatorServices(p, tenantId, billing);
  return {
    p,
    smtp,
    tenantId,
    billing,
    owner,
    ...services,
    async close() {
      await services.close();
      await smtp.close().catch(() => undefined);
      await p.close();
    },
  };
}
