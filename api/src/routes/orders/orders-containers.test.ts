import { DockerLabel } from '@keelson/common/constants';
import { containers, subscriptions } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createCustomer, createCustomerUser, createPlan, pollUntil } from '../../../../test/billing-fixtures';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { freePort, waitForRun } from '../../../../test/runs';
import { startSmtpReceiver, type SmtpReceiver } from '../../../../test/smtp';
import { CreditNoteSchema, InvoiceSchema } from '../billing/schema';
import { OrderSchema, PlacedOrderSchema } from './schema';

/**
 * Orders of plans that provision a container from a blueprint, on the real Docker engine: the
 * order is invoiced, accepted, and its container-create child run starts the container on the
 * plan's node with host ports chosen for the order and the blueprint's sealed environment; the
 * customer sees it running through the API. A container that cannot start leaves no Docker
 * container behind, and the order's invoice is credited in full.
 */
const IMAGE = 'keelson/busybox:latest';
type Order = ReturnType<typeof OrderSchema.parse>;
type Invoice = ReturnType<typeof InvoiceSchema.parse>;

let p: TestPlatform;
let tenantId: string;
let admin: SignedIn;
let staff: SignedIn;
let portal: SignedIn;
let otherPortal: SignedIn;
let customer: { id: string; name: string };
let nodeId: string;
let smtp: SmtpReceiver;

/** Keelson's Docker containers of this test's organization (running or not). */
const dockerContainers = async () => p.docker.listContainers({ all: true, filters: { label: [`${DockerLabel.tenant}=${tenantId}`] } });

async function blueprint(hostPort: number) {
  return api<{ id: string }>(p, admin, '/api/blueprints', {
    body: {
      name: `bp-${Math.random().toString(36).slice(2, 8)}`,
      image: IMAGE,
      command: ['sh', '-c', 'mkdir -p /www && echo "hello $GREETING" > /www/index.html && exec httpd -f -p 8080 -h /www'],
      env: { GREETING: 'customer' },
      ports: [{ container: 8080, host: hostPort }],
      memoryLimitMb: 64,
    },
    expect: 201,
  });
}

beforeAll(async () => {
  p = await createTestPlatform();
  await p.startCoreWorker();
  tenantId = (await p.createTenant()).id;
  admin = await p.signIn({ tenantId, role: 'admin' });
  staff = await p.signIn({ tenantId, role: 'billing' });
  nodeId = (await p.addDockerNode(tenantId)).id;
  smtp = await startSmtpReceiver();
  await api(p, admin, '/api/mail/smtp', { method: 'PUT', body: { host: '127.0.0.1', port: smtp.port, security: 'none', fromAddress: 'billing@hoster.test' } });
  customer = await createCustomer(p, staff);
  portal = await createCustomerUser(p, staff, tenantId, customer.id);
  otherPortal = await createCustomerUser(p, staff, tenantId, (await createCustomer(p, staff)).id);
}, 120_000);

afterAll(async () => {
  for (const c of (await dockerContainers().catch(() => [])) ?? []) await p.docker.getContainer(c.Id).remove({ force: true });
  await smtp?.close();
  await p?.close();
});

describe('orders of container plans', () => {
  it('an accepted order runs the blueprint’s container for the customer; a second order of it gets a host port of its own', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const bp = await blueprint(port);
    const { planId } = await createPlan(p, staff, { kind: 'container', blueprintId: bp.id, nodeId }, { setupFeeMinor: 500 });
    const name = `shop-${Math.random().toString(36).slice(2, 8)}`;

    const placed = PlacedOrderSchema.parse(await api(p, portal, '/api/orders', { body: { planId, cycle: 'monthly', hostname: name }, expect: 202 }));
    await pollUntil(() => api<Order>(p, staff, `/api/orders/${placed.order.id}`), (o) => o.status === 'awaiting_acceptance', 30_000);
    await api(p, staff, `/api/orders/${placed.order.id}/accept`, { body: {} });
    expect(await waitForRun(p, placed.run.workflowId)).toBe('COMPLETED');

    // The customer sees their container running, and where it answers.
    const order = OrderSchema.parse(await api(p, portal, `/api/orders/${placed.order.id}`));
    expect(order.status).toBe('active');
    expect(order.service).toMatchObject({ kind: 'container', name, state: 'running', address: `:${port}` });
    expect((await p.request(`/api/orders/${order.id}`, { headers: otherPortal.headers })).status).toBe(404);
    // The container is the blueprint's, with its sealed environment opened on the node only.
    const [row] = await p.db.select().from(containers).where(eq(containers.id, order.service!.id));
    expect(row).toMatchObject({ state: 'running', nodeId, blueprintId: bp.id });
    expect(row!.envSealed).not.toContain('customer');
    expect(row!.spec.envKeys).toEqual(['GREETING']);
    const [docker] = (await dockerContainers()).filter((c) => c.Labels[DockerLabel.container] === row!.id);
    expect(docker?.State).toBe('running');
    expect(docker?.Ports.map((x) => x.PublicPort)).toContain(port);
    const body = await pollUntil(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()).catch(() => ''), (t) => t.includes('hello'), 20_000);
    expect(body.trim()).toBe('hello customer');
    // Its subscription runs and points at it; the order was invoiced once (first month and setup).
    const [sub] = await p.db.select().from(subscriptions).where(eq(subscriptions.id, order.subscriptionId!));
    expect(sub).toMatchObject({ status: 'active', resource: `container:${row!.id}` });
    const invoice = await api<Invoice>(p, portal, `/api/invoices/${order.invoiceId}`);
    expect(invoice).toMatchObject({ status: 'finalized', totalMinor: 1250 + 500 });
    // The customer follows the provisioning run too.
    expect((await p.request(`/api/runs/${encodeURIComponent(`container/${row!.id}/create`)}`, { headers: portal.headers })).status).toBe(200);
    expect((await p.request(`/api/runs/${encodeURIComponent(`container/${row!.id}/create`)}`, { headers: otherPortal.headers })).status).toBe(404);

    // The same name again is refused up front.
    const taken = await p.request('/api/orders', { headers: portal.headers, body: { planId, cycle: 'monthly', hostname: name } });
    expect(taken.status).toBe(400);
    expect(((await taken.json()) as { message: string }).message).toBe(`hostname: "${name}" is taken; choose another name`);

    // Staff order the same plan for the customer (on account): the blueprint's port is held, so
    // the new container gets the next one up, and both answer.
    const second = PlacedOrderSchema.parse(await api(p, staff, '/api/orders', { body: { customerId: customer.id, planId, cycle: 'monthly' }, expect: 202 }));
    expect(await waitForRun(p, second.run.workflowId)).toBe('COMPLETED');
    const other = OrderSchema.parse(await api(p, portal, `/api/orders/${second.order.id}`));
    expect(other.service).toMatchObject({ kind: 'container', state: 'running', name: `o-${other.reference.toLowerCase()}` });
    const otherPort = Number(other.service!.address!.slice(1));
    expect(otherPort).toBeGreaterThan(port);
    const both = await dockerContainers();
    expect(both.filter((c) => c.State === 'running').flatMap((c) => c.Ports.map((x) => x.PublicPort))).toEqual(expect.arrayContaining([port, otherPort]));
    expect((await pollUntil(() => fetch(`http://127.0.0.1:${otherPort}/`).then((r) => r.text()).catch(() => ''), (t) => t.includes('hello'), 20_000)).trim()).toBe('hello customer');
  });

  it('a container that cannot start leaves no Docker container, a cancelled subscription and a credit note for what was invoiced', { timeout: 120_000 }, async () => {
    // Something outside Keelson holds the blueprint's host port: Docker refuses to start it.
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '0.0.0.0', () => r()));
    try {
      const bp = await blueprint(port);
      const { planId } = await createPlan(p, staff, { kind: 'container', blueprintId: bp.id, nodeId }, { setupFeeMinor: 700 });
      const before = (await dockerContainers()).length;

      const placed = PlacedOrderSchema.parse(await api(p, staff, '/api/orders', { body: { customerId: customer.id, planId, cycle: 'monthly' }, expect: 202 }));
      expect(await waitForRun(p, placed.run.workflowId)).toBe('FAILED');

      const failed = OrderSchema.parse(await api(p, portal, `/api/orders/${placed.order.id}`));
      expect(failed.status).toBe('failed');
      expect(failed.lastError).toMatch(/host port .* already taken/);
      expect(failed.service).toMatchObject({ kind: 'container', state: 'failed' });
      // Nothing half-made: the Docker container the run created is gone, its record says why.
      expect((await dockerContainers()).filter((c) => c.Labels[DockerLabel.container] === failed.service!.id)).toEqual([]);
      expect((await dockerContainers()).length).toBe(before);
      const [row] = await p.db.select().from(containers).where(eq(containers.id, failed.service!.id));
      expect(row!.state).toBe('failed');
      const [sub] = await p.db.select().from(subscriptions).where(eq(subscriptions.id, failed.subscriptionId!));
      expect(sub!.status).toBe('cancelled');

      const invoice = await api<Invoice>(p, portal, `/api/invoices/${failed.invoiceId}`);
      expect(invoice).toMatchObject({ status: 'finalized', totalMinor: 1250 + 700 });
      const note = CreditNoteSchema.parse(await api(p, portal, `/api/credit-notes/${failed.creditNoteId}`));
      expect(note).toMatchObject({ invoiceId: invoice.id, totalMinor: invoice.totalMinor });
      await smtp.waitForMessage((m) => m.subject.startsWith(`Credit note ${note.number} `), 60_000);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

  it('app plans need the domain they are served under', async () => {
    const { planId } = await createPlan(p, staff, { kind: 'app', repoUrl: '/srv/git/shop.git', branch: 'main', containerPort: 8080, nodeId });
    const res = await p.request('/api/orders', { headers: portal.headers, body: { planId, cycle: 'monthly' } });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/domain: an app plan needs the DNS name/);
    const bad = await p.request('/api/orders', { headers: portal.headers, body: { planId, cycle: 'monthly', domain: 'Not A Host' } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/domain/);
  });
});
