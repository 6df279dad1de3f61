import { z } from '@hono/zod-openapi';
import { BILLING_CYCLES, GUEST_STATES, ORDER_STATUSES } from '@keelson/db/schema';
import { ResourceName, setOf } from '../../schemas';
import { AdminUser, SshPublicKey } from '../../services/proxmox-inputs';
import { Hostname } from '../apps/schema';

const Id = (what: string) => z.uuid({ error: `must be a ${what} id (UUID)` });

/** What the customer chooses for the service a plan provisions. */
export const ServiceOptions = z
  .object({
    hostname: ResourceName.optional().openapi({ description: "The VM name / container hostname / app's name; one is made up when absent" }),
    domain: Hostname.optional().openapi({ description: 'App plans (required there): the DNS name the app is served under' }),
    adminUser: AdminUser.optional().openapi({ description: 'The admin login created on the VM or container (default `admin`)' }),
    sshKeys: setOf(SshPublicKey, { max: 50 }).optional().openapi({ description: "The admin login's SSH public keys; VM and container plans need at least one" }),
  })
  .openapi('OrderServiceOptions');

export const PlaceOrderBody = ServiceOptions.extend({
  customerId: Id('customer').optional().openapi({ description: 'Staff: the customer ordered for. A customer user always orders for their own' }),
  planId: Id('plan'),
  cycle: z.enum(BILLING_CYCLES).openapi({ description: 'One of the cycles the plan is priced in' }),
}).openapi('PlaceOrder');

export const AcceptQuoteBody = ServiceOptions.openapi('AcceptQuote');

export const DecisionBody = z.object({ comment: z.string().trim().max(1000).optional() }).openapi('OrderDecision');

const LineSchema = z.object({ description: z.string(), quantity: z.number(), unitAmountMinor: z.number(), planId: z.string().optional() });

/** The service an order provisioned (or was provisioning), with its state now. */
export const OrderServiceSchema = z
  .object({
    kind: z.enum(['guest', 'container', 'app']),
    id: z.string(),
    name: z.string().nullable(),
    state: z.enum(GUEST_STATES).nullable().openapi({ description: "The service's state in a VM's words: a container or app that runs is `running`" }),
    ip: z.string().nullable().openapi({ description: "A VM's address" }),
    address: z.string().nullable().openapi({ description: "Where it answers: a VM's IP, a container's host ports (`:18080`), an app's domain" }),
  })
  .openapi('OrderService');

export const OrderSchema = z
  .object({
    id: z.string(),
    reference: z.string(),
    customer: z.object({ id: z.string(), name: z.string() }),
    plan: z.object({ id: z.string(), name: z.string(), productName: z.string(), provisions: z.string() }),
    quoteId: z.string().nullable(),
    cycle: z.enum(BILLING_CYCLES),
    priceMinor: z.number(),
    currency: z.string(),
    oneOffLines: z.array(LineSchema),
    onAccount: z.boolean(),
    status: z.enum(ORDER_STATUSES),
    subscriptionId: z.string().nullable(),
    invoiceId: z.string().nullable(),
    creditNoteId: z.string().nullable(),
    service: OrderServiceSchema.nullable(),
    lastError: z.string().nullable(),
    workflowId: z.string(),
    decidedBy: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Order');

export const OrderListSchema = z.object({ items: z.array(OrderSchema) }).openapi('OrderList');

export const OrderListQuery = z.object({
  status: z.enum(ORDER_STATUSES).optional(),
  customerId: Id('customer').optional().openapi({ description: 'Staff: one customer’s orders' }),
});

export const PlacedOrderSchema = z.object({ order: OrderSchema, run: z.object({ workflowId: z.string(), runId: z.string(), operation: z.string() }) }).openapi('PlacedOrder');
