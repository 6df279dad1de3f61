import { decryptSecret, encryptSecret, type KeyRing } from '@keelson/common/codec';
import { AdvisoryLock, resourceRef, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { splitUrlCredentials } from '@keelson/common/credentials';
import type { Database, Executor } from '@keelson/db';
import {
  apps,
  blueprints,
  containers,
  customers,
  guests,
  kycCases,
  nodes,
  orders,
  plans,
  products,
  proxmoxClusters,
  releases,
  subscriptions,
  type ContainerSpec,
  type OrderResource,
  type OrderStatus,
  type PortMapping,
} from '@keelson/db/schema';
import { ApplicationFailure } from '@temporalio/activity';
import { and, desc, eq, inArray, notInArray, sql } from 'drizzle-orm';
import { DateTime } from 'luxon';
import { randomBytes, randomUUID } from 'node:crypto';
import { provisioningKeyPair } from '../proxmox/keys';
import { localDate, periodAt } from './periods';

/** What the order's run needs to know up front. */
export interface LoadedOrder {
  tenantId: string;
  orderId: string;
  reference: string;
  customerId: string;
  customerName: string;
  /** One line for the acceptance prompt: `Product · Plan, EUR 12.00 monthly`. */
  summary: string;
  /** The plan bills on account: the order needs nobody's acceptance. */
  onAccount: boolean;
  /** How long staff have to accept it (ms); absent, it waits until someone answers. */
  acceptanceTimeout?: number;
  /** The plan's product requires an approved KYC case before anything is provisioned. */
  requiresKyc?: boolean;
}

/** Where the customer's identity check stands, as the order's run reads it. */
export interface KycStanding {
  /** The current case's state, or null when none was ever opened. */
  state: string | null;
  /** Approved and not past its valid-until date. */
  approved: boolean;
}

/** A provisioning run the order starts as its child. */
export interface ChildRun {
  workflowType: string;
  workflowId: string;
  operation: string;
  resources: string[];
  /** The child's input without tenant and actor (the order's run adds them). */
  input: Record<string, unknown>;
}

export interface OrderOutcome {
  orderId: string;
  status: OrderStatus;
  subscriptionId: string | null;
  resource: OrderResource | null;
  invoiceId: string | null;
  creditNoteId: string | null;
  reason: string | null;
}

/** How a subscription names the resource its order made. */
const SUBSCRIBED_RESOURCE = { guest: 'proxmox-guest', container: 'container', app: 'app' } as const satisfies Record<OrderResource['kind'], string>;

/** An ordered app is healthy when `/` answers 200 three times within a minute of its start. */
const ORDERED_APP_HEALTH = { path: '/', expectedStatus: 200, timeoutSeconds: 60, passes: 3 };

/** Named volumes of an ordered container are its own: two orders of a blueprint share nothing. */
export const orderVolumeName = (tenantId: string, containerId: string, name: string) => `keelson-${tenantId}-${name}-${containerId.slice(0, 8)}`;

/** Host ports Keelson hands out when a blueprint's own port is taken. */
const PORT_LIMIT = 65_535;

/**
 * Host ports for a new container on a node: each of the blueprint's own host port when no live
 * Keelson container on the node holds it, else the next one up that none does. Choices are made
 * one at a time per node (a transaction-scoped advisory lock the API's container create takes
 * too), so two orders of a blueprint never get the same port; the container row that claims them
 * commits with the lock.
 */
export async function choosePorts(tx: Executor, nodeId: string, wanted: PortMapping[]): Promise<PortMapping[]> {
  if (!wanted.length) return [];
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${AdvisoryLock.nodePorts(nodeId)}))`);
  const live = await tx
    .select({ spec: containers.spec })
    .from(containers)
    .where(and(eq(containers.nodeId, nodeId), notInArray(containers.state, ['removed', 'failed'])));
  const taken = new Set(live.flatMap((c) => c.spec.ports.map((p) => p.host)));
  return wanted.map((p) => {
    let host = p.host;
    while (taken.has(host)) host++;
    if (host > PORT_LIMIT) throw permanent('NoFreePort', `no free host port from ${p.host} up on the node`);
    taken.add(host);
    return { ...p, host };
  });
}

/** Statuses an order's run may still change; a closed order stays closed. */
const OPEN: OrderStatus[] = ['placed', 'awaiting_kyc', 'awaiting_acceptance', 'provisioning'];

const permanent = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

export interface OrderActivityDeps {
  db: Database;
  /**
   * The key ring secrets at rest are sealed with (an ordered app's webhook secret and repository
   * credentials). Without it, plans that provision an app fail at provisioning.
   */
  keys?: KeyRing;
  /**
   * Issues the order's first invoice (setup fee, first period, a quote's one-off lines) once per
   * order and returns it; supplied by billing's invoice activities. Without it the order is not
   * invoiced up front and its first period is invoiced by the billing run.
   */
  invoiceOrder?: (input: { tenantId: string; orderId: string }) => Promise<{ invoiceId: string } | null>;
  /**
   * Credits what the order's invoice holds, once per order (keyed by it); supplied by billing.
   * Null when there is nothing to credit (an invoice of zero).
   */
  creditOrder?: (input: { tenantId: string; orderId: string; invoiceId: string; reason: string }) => Promise<{ creditNoteId: string } | null>;
  /** Billing's clock (injectable, so a trial runs out in seconds in tests). */
  now?: () => Date;
}

/**
 * The order run's side effects (core queue, Postgres): every one keyed by the order, so a
 * retried or replayed step leaves the same rows.
 */
export function createOrderActivities({ db, keys, invoiceOrder, creditOrder, now = () => new Date() }: OrderActivityDeps) {
  async function requireOrder(tenantId: string, orderId: string) {
    const [row] = await db.select().from(orders).where(and(eq(orders.tenantId, tenantId), eq(orders.id, orderId)));
    // Retryable: the API starts the run in the transaction that records the order.
    if (!row) throw ApplicationFailure.retryable(`order ${orderId} is not recorded (yet)`, 'OrderNotFound');
    return row;
  }

  async function outcome(tenantId: string, orderId: string): Promise<OrderOutcome> {
    const o = await requireOrder(tenantId, orderId);
    return { orderId, status: o.status, subscriptionId: o.subscriptionId, resource: o.resource, invoiceId: o.invoiceId, creditNoteId: o.creditNoteId, reason: o.lastError };
  }

  type OrderRow = typeof orders.$inferSelect;

  /** Records what the order made, in the transaction that made its record. */
  async function recordResource(tx: Executor, o: OrderRow, resource: OrderResource) {
    await tx.update(orders).set({ resource, updatedAt: sql`now()` }).where(and(eq(orders.tenantId, o.tenantId), eq(orders.id, o.id)));
  }

  const aboutOrder = (o: OrderRow) => [resourceRef('order', o.id), resourceRef('customer', o.customerId)];

  /**
   * A container from the plan's blueprint on the plan's node: the `containers` row (state
   * `creating`, host ports chosen for this order, the blueprint's environment still sealed on the
   * key ring: it is copied as it is and opened only by the node) and the container-create run.
   */
  async function prepareContainer(o: OrderRow, p: { blueprintId: string; nodeId: string }, name: string): Promise<ChildRun> {
    let containerId = o.resource?.kind === 'container' ? o.resource.id : null;
    if (!containerId) {
      const id = randomUUID();
      containerId = id;
      await db.transaction(async (tx) => {
        const [blueprint] = await tx.select().from(blueprints).where(and(eq(blueprints.tenantId, o.tenantId), eq(blueprints.id, p.blueprintId)));
        if (!blueprint) throw permanent('OrderInvalid', `the plan's blueprint is gone`);
        const [node] = await tx.select({ id: nodes.id }).from(nodes).where(and(eq(nodes.tenantId, o.tenantId), eq(nodes.id, p.nodeId)));
        if (!node) throw permanent('OrderInvalid', `the plan's Docker node is gone`);
        const spec: ContainerSpec = {
          image: blueprint.image,
          command: blueprint.command,
          ports: await choosePorts(tx, node.id, blueprint.ports),
          volumes: blueprint.volumes.map((v) => ({ ...v, source: orderVolumeName(o.tenantId, id, v.source) })),
          envKeys: blueprint.envSealed && keys ? Object.keys(JSON.parse(decryptSecret(keys, blueprint.envSealed)) as object).sort() : [],
          cpuLimit: blueprint.cpuLimit,
          memoryLimitMb: blueprint.memoryLimitMb,
        };
        const [made] = await tx
          .insert(containers)
          .values({ id, tenantId: o.tenantId, nodeId: node.id, blueprintId: blueprint.id, name, spec, envSealed: blueprint.envSealed })
          .onConflictDoNothing()
          .returning({ id: containers.id });
        if (!made) throw permanent('ServiceNameTaken', `a container named "${name}" already exists`);
        await recordResource(tx, o, { kind: 'container', id });
      });
    }
    const [row] = await db.select({ nodeId: containers.nodeId }).from(containers).where(and(eq(containers.tenantId, o.tenantId), eq(containers.id, containerId)));
    if (!row) throw permanent('OrderInvalid', `order ${o.reference}: its container record is gone`);
    return {
      workflowType: WorkflowType.containerCreate,
      workflowId: WorkflowId.containerCreate(containerId),
      operation: 'container.create',
      resources: [resourceRef('container', containerId), resourceRef('node', row.nodeId), ...aboutOrder(o)],
      input: { containerId, nodeId: row.nodeId, logCaptureSeconds: 2 },
    };
  }

  /**
   * An app from the plan's repository on the plan's node, served under the domain the customer
   * chose: the `apps` row (its webhook secret and any repository credentials sealed on the key
   * ring), its first release (queued) and that release's deploy run.
   */
  async function prepareApp(o: OrderRow, p: { repoUrl: string; branch: string; containerPort: number; nodeId: string }, name: string, actor: string): Promise<ChildRun> {
    let resource = o.resource?.kind === 'app' ? o.resource : null;
    if (!resource) {
      if (!keys) throw permanent('OrderInvalid', 'this worker cannot seal an app\'s secrets (no key ring)');
      const domain = o.serviceOptions.domain;
      if (!domain) throw permanent('OrderInvalid', `order ${o.reference}: an app needs the domain it is served under`);
      const made = { kind: 'app' as const, id: randomUUID(), releaseId: randomUUID() };
      const { url, credentials } = splitUrlCredentials(p.repoUrl);
      await db.transaction(async (tx) => {
        const [node] = await tx.select({ id: nodes.id }).from(nodes).where(and(eq(nodes.tenantId, o.tenantId), eq(nodes.id, p.nodeId)));
        if (!node) throw permanent('OrderInvalid', `the plan's Docker node is gone`);
        const [app] = await tx
          .insert(apps)
          .values({
            id: made.id,
            tenantId: o.tenantId,
            name,
            repoUrl: url,
            repoCredentialsSealed: credentials ? encryptSecret(keys, JSON.stringify(credentials)) : null,
            branch: p.branch,
            containerPort: p.containerPort,
            healthCheck: ORDERED_APP_HEALTH,
            nodeId: node.id,
            hostname: domain,
            webhookSecretSealed: encryptSecret(keys, `whsec_${randomBytes(24).toString('base64url')}`),
          })
          .onConflictDoNothing()
          .returning({ id: apps.id });
        if (!app) throw permanent('ServiceNameTaken', `an app named "${name}" or served under ${domain} already exists`);
        await tx.insert(releases).values({ id: made.releaseId, tenantId: o.tenantId, appId: made.id, trigger: 'manual', workflowId: WorkflowId.deployRelease(made.id, made.releaseId), actor });
        await recordResource(tx, o, made);
      });
      resource = made;
    }
    const appId = resource.id;
    const releaseId = resource.releaseId!;
    return {
      workflowType: WorkflowType.deployRelease,
      workflowId: WorkflowId.deployRelease(appId, releaseId),
      operation: 'app.deploy',
      resources: [resourceRef('app', appId), resourceRef('release', releaseId), ...aboutOrder(o)],
      input: { appId, releaseId },
    };
  }

  return {
    async loadOrder({ tenantId, orderId }: { tenantId: string; orderId: string }): Promise<LoadedOrder> {
      const o = await requireOrder(tenantId, orderId);
      const [row] = await db
        .select({ customer: customers.name, plan: plans.name, product: products.name, provisioning: plans.provisioning, requiresKyc: products.requiresKyc })
        .from(plans)
        .innerJoin(products, eq(products.id, plans.productId))
        .innerJoin(customers, eq(customers.id, o.customerId))
        .where(and(eq(plans.tenantId, tenantId), eq(plans.id, o.planId)));
      if (!row) throw permanent('OrderInvalid', `order ${o.reference}: its plan or customer is gone`);
      const price = `${o.currency} ${(o.priceMinor / 100).toFixed(2)} ${o.cycle}`;
      return {
        tenantId,
        orderId,
        reference: o.reference,
        customerId: o.customerId,
        customerName: row.customer,
        summary: `${row.product} · ${row.plan}, ${price}`,
        onAccount: o.onAccount,
        requiresKyc: row.requiresKyc,
      };
    },

    /** The customer's current KYC case, as its workflow last recorded it (decision 0023). */
    async kycStanding({ tenantId, customerId }: { tenantId: string; customerId: string }): Promise<KycStanding> {
      const [row] = await db
        .select({ state: kycCases.state, validUntil: kycCases.validUntil })
        .from(kycCases)
        .where(and(eq(kycCases.tenantId, tenantId), eq(kycCases.customerId, customerId)))
        .orderBy(desc(kycCases.createdAt))
        .limit(1);
      if (!row) return { state: null, approved: false };
      return { state: row.state, approved: row.state === 'approved' && (row.validUntil === null || row.validUntil.getTime() > Date.now()) };
    },

    /** The first invoice, when billing supplies it; recorded on the order. */
    async invoiceOrder({ tenantId, orderId }: { tenantId: string; orderId: string }): Promise<{ invoiceId: string | null }> {
      const o = await requireOrder(tenantId, orderId);
      if (o.invoiceId || !invoiceOrder) return { invoiceId: o.invoiceId };
      const invoice = await invoiceOrder({ tenantId, orderId });
      if (invoice) await db.update(orders).set({ invoiceId: invoice.invoiceId, updatedAt: sql`now()` }).where(and(eq(orders.tenantId, tenantId), eq(orders.id, orderId)));
      return { invoiceId: invoice?.invoiceId ?? null };
    },

    /** Moves an open order along; a closed one is left as it is. */
    async recordOrder({ tenantId, orderId, status }: { tenantId: string; orderId: string; status: 'awaiting_kyc' | 'awaiting_acceptance' | 'provisioning' }): Promise<void> {
      await db
        .update(orders)
        .set({ status, updatedAt: sql`now()` })
        .where(and(eq(orders.tenantId, tenantId), eq(orders.id, orderId), inArray(orders.status, OPEN)));
    },

    /**
     * Records the resource the plan provisions (a `guests`, `containers` or `apps` row, in its
     * first state) and answers the child run that makes it; null for a plain service line.
     * Repeating it finds the same record.
     */
    async prepareService({ tenantId, orderId, actor }: { tenantId: string; orderId: string; actor: string }): Promise<ChildRun | null> {
      const o = await requireOrder(tenantId, orderId);
      const [plan] = await db.select().from(plans).where(and(eq(plans.tenantId, tenantId), eq(plans.id, o.planId)));
      if (!plan) throw permanent('OrderInvalid', `order ${o.reference}: its plan is gone`);
      const p = plan.provisioning;
      if (p.kind === 'service') return null;
      const name = o.serviceOptions.hostname ?? `o-${o.reference.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
      if (p.kind === 'container') return prepareContainer(o, p, name);
      if (p.kind === 'app') return prepareApp(o, p, name, actor);

      const [cluster] = await db.select().from(proxmoxClusters).where(and(eq(proxmoxClusters.tenantId, tenantId), eq(proxmoxClusters.id, p.clusterId)));
      if (!cluster) throw permanent('OrderInvalid', `the plan's Proxmox cluster is gone`);
      const kind = p.kind === 'proxmox_vm' ? ('qemu' as const) : ('lxc' as const);
      const opts = o.serviceOptions;
      const adminUser = opts.adminUser ?? 'admin';
      const diskGiB = p.diskGiB ?? (kind === 'lxc' ? 8 : null);

      let guestId = o.resource?.kind === 'guest' ? o.resource.id : null;
      if (!guestId) {
        guestId = randomUUID();
        const id = guestId;
        const workflowId = kind === 'qemu' ? WorkflowId.vmProvision(id) : WorkflowId.lxcProvision(id);
        await db.transaction(async (tx) => {
          const [made] = await tx
            .insert(guests)
            .values({ id, tenantId, clusterId: cluster.id, kind, name, cores: p.cores, memoryMiB: p.memoryMiB, diskGiB, adminUser, workflowId })
            .onConflictDoNothing()
            .returning({ id: guests.id });
          if (!made) throw permanent('ServiceNameTaken', `a guest named "${name}" already exists on cluster "${cluster.name}"`);
          await tx
            .update(orders)
            .set({ resource: { kind: 'guest', id }, updatedAt: sql`now()` })
            .where(and(eq(orders.tenantId, tenantId), eq(orders.id, orderId)));
        });
      }

      const common = {
        clusterId: cluster.id,
        cores: p.cores,
        memoryMiB: p.memoryMiB,
        network: { ip: 'dhcp' },
        adminUser,
        adminSshKeys: opts.sshKeys ?? [],
        tags: ['order'],
        guestId,
        storage: cluster.defaultStorage ?? undefined,
        // A fresh pair each time is fine: only the child that is about to start uses it.
        provisioningKey: provisioningKeyPair(),
      };
      const resources = [resourceRef('guest', guestId), resourceRef('cluster', cluster.id), resourceRef('order', orderId), resourceRef('customer', o.customerId)];
      if (p.kind === 'proxmox_vm') {
        const templateVmid = p.templateVmid ?? cluster.defaultTemplateVmid;
        if (templateVmid == null) throw permanent('OrderInvalid', `cluster "${cluster.name}" has no default template and the plan names none`);
        return {
          workflowType: WorkflowType.vmProvision,
          workflowId: WorkflowId.vmProvision(guestId),
          operation: 'vm.provision',
          resources,
          input: { ...common, name, templateVmid, diskGiB: p.diskGiB ?? undefined, via: p.via ?? 'api' },
        };
      }
      const ostemplate = p.ostemplate ?? cluster.defaultOstemplate;
      if (!ostemplate) throw permanent('OrderInvalid', `cluster "${cluster.name}" has no default ostemplate and the plan names none`);
      return {
        workflowType: WorkflowType.lxcProvision,
        workflowId: WorkflowId.lxcProvision(guestId),
        operation: 'lxc.provision',
        resources,
        input: { ...common, hostname: name, ostemplate, rootfsGiB: diskGiB ?? 8 },
      };
    },

    /** The service runs: its subscription starts (in its trial, if the plan has one). */
    async activateOrder({ tenantId, orderId }: { tenantId: string; orderId: string; result: unknown }): Promise<OrderOutcome> {
      await db.transaction(async (tx) => {
        const [o] = await tx.select().from(orders).where(and(eq(orders.tenantId, tenantId), eq(orders.id, orderId))).for('update');
        if (!o || !OPEN.includes(o.status)) return;
        const [sub] = o.subscriptionId ? await tx.select().from(subscriptions).where(and(eq(subscriptions.tenantId, tenantId), eq(subscriptions.id, o.subscriptionId), eq(subscriptions.status, 'pending'))).for('update') : [];
        if (sub) {
          const [plan] = await tx.select({ trialDays: plans.trialDays }).from(plans).where(eq(plans.id, o.planId));
          const trialDays = plan?.trialDays ?? 0;
          // A trial starts with the service; the first paid period starts when it ends, on its
          // local date (the order's invoice held only the setup fee and one-off lines).
          const trialEndsAt = trialDays > 0 && sub.nextPeriodIndex === 0 ? DateTime.fromJSDate(now(), { zone: sub.timeZone }).plus({ days: trialDays }).toJSDate() : null;
          const anchorDate = trialEndsAt ? localDate(trialEndsAt, sub.timeZone) : sub.anchorDate;
          await tx
            .update(subscriptions)
            .set({
              status: trialEndsAt ? 'trialing' : 'active',
              ...(trialEndsAt ? { trialEndsAt, anchorDate, nextPeriodStart: periodAt(anchorDate, sub.cycle, sub.timeZone, 0).start } : {}),
              resource: o.resource ? resourceRef(SUBSCRIBED_RESOURCE[o.resource.kind], o.resource.id) : null,
              updatedAt: sql`now()`,
            })
            .where(eq(subscriptions.id, sub.id));
        }
        await tx.update(orders).set({ status: 'active', lastError: null, updatedAt: sql`now()` }).where(eq(orders.id, orderId));
      });
      return outcome(tenantId, orderId);
    },

    /**
     * Closes an order that will not be fulfilled: its subscription is cancelled and what was
     * invoiced is credited (once: the credit note is keyed by the order). The provisioning run has
     * already removed whatever it made.
     */
    async closeOrder({ tenantId, orderId, status, reason }: { tenantId: string; orderId: string; status: 'failed' | 'rejected' | 'canceled'; reason: string }): Promise<OrderOutcome> {
      const o = await requireOrder(tenantId, orderId);
      if (o.invoiceId && !o.creditNoteId && creditOrder) {
        const note = await creditOrder({ tenantId, orderId, invoiceId: o.invoiceId, reason: `order ${o.reference}: ${reason}` });
        if (note) await db.update(orders).set({ creditNoteId: note.creditNoteId, updatedAt: sql`now()` }).where(and(eq(orders.tenantId, tenantId), eq(orders.id, orderId)));
      }
      await db.transaction(async (tx) => {
        // An ordered app that never served holds its name and domain: it goes. (Its deploy run
        // already removed its container; a guest or container keeps its `failed` record.)
        if (o.resource?.kind === 'app') {
          await tx.delete(apps).where(and(eq(apps.tenantId, tenantId), eq(apps.id, o.resource.id), sql`${apps.currentReleaseId} is null`));
        }
        if (o.subscriptionId) {
          await tx
            .update(subscriptions)
            .set({ status: 'cancelled', cancelledAt: sql`now()`, endsAt: sql`now()`, updatedAt: sql`now()` })
            .where(and(eq(subscriptions.tenantId, tenantId), eq(subscriptions.id, o.subscriptionId), sql`${subscriptions.status} <> 'cancelled'`));
        }
        await tx
          .update(orders)
          .set({ status, lastError: reason, updatedAt: sql`now()` })
          .where(and(eq(orders.tenantId, tenantId), eq(orders.id, orderId), inArray(orders.status, OPEN)));
      });
      return outcome(tenantId, orderId);
    },
  };
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
