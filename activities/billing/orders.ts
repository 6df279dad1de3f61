import { resourceRef, WorkflowId, WorkflowType } from '@keelson/common/constants';
import type { Database } from '@keelson/db';
import { customers, guests, orders, plans, products, proxmoxClusters, subscriptions, type OrderResource, type OrderStatus } from '@keelson/db/schema';
import { ApplicationFailure } from '@temporalio/activity';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { DateTime } from 'luxon';
import { randomUUID } from 'node:crypto';
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

/** Statuses an order's run may still change; a closed order stays closed. */
const OPEN: OrderStatus[] = ['placed', 'awaiting_acceptance', 'provisioning'];

const permanent = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

export interface OrderActivityDeps {
  db: Database;
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
export function createOrderActivities({ db, invoiceOrder, creditOrder, now = () => new Date() }: OrderActivityDeps) {
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

  return {
    async loadOrder({ tenantId, orderId }: { tenantId: string; orderId: string }): Promise<LoadedOrder> {
      const o = await requireOrder(tenantId, orderId);
      const [row] = await db
        .select({ customer: customers.name, plan: plans.name, product: products.name, provisioning: plans.provisioning })
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
      };
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
    async recordOrder({ tenantId, orderId, status }: { tenantId: string; orderId: string; status: 'awaiting_acceptance' | 'provisioning' }): Promise<void> {
      await db
        .update(orders)
        .set({ status, updatedAt: sql`now()` })
        .where(and(eq(orders.tenantId, tenantId), eq(orders.id, orderId), inArray(orders.status, OPEN)));
    },

    /**
     * Records the resource the plan provisions (a `guests` row in `provisioning`) and answers the
     * child run that makes it; null for a plain service line. Repeating it finds the same record.
     */
    async prepareService({ tenantId, orderId }: { tenantId: string; orderId: string; actor: string }): Promise<ChildRun | null> {
      const o = await requireOrder(tenantId, orderId);
      const [plan] = await db.select().from(plans).where(and(eq(plans.tenantId, tenantId), eq(plans.id, o.planId)));
      if (!plan) throw permanent('OrderInvalid', `order ${o.reference}: its plan is gone`);
      const p = plan.provisioning;
      if (p.kind === 'service') return null;
      if (p.kind !== 'proxmox_vm' && p.kind !== 'proxmox_lxc') throw permanent('OrderInvalid', `plans that provision ${p.kind === 'app' ? 'an app' : 'a container'} cannot be ordered yet`);

      const [cluster] = await db.select().from(proxmoxClusters).where(and(eq(proxmoxClusters.tenantId, tenantId), eq(proxmoxClusters.id, p.clusterId)));
      if (!cluster) throw permanent('OrderInvalid', `the plan's Proxmox cluster is gone`);
      const kind = p.kind === 'proxmox_vm' ? ('qemu' as const) : ('lxc' as const);
      const opts = o.serviceOptions;
      const name = opts.hostname ?? `o-${o.reference.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
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
          input: { ...common, name, templateVmid, diskGiB: p.diskGiB ?? undefined },
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
              resource: o.resource ? resourceRef(o.resource.kind === 'guest' ? 'proxmox-guest' : 'container', o.resource.id) : null,
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
