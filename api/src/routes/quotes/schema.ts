import { z } from '@hono/zod-openapi';
import { BILLING_CYCLES, QUOTE_STATUSES } from '@keelson/db/schema';
import { Minor } from '../../services/billing/validation';

const Id = (what: string) => z.uuid({ error: `must be a ${what} id (UUID)` });

export const QuoteLineInput = z
  .object({
    description: z.string().trim().min(1).max(500),
    quantity: z.number().int().min(1).max(100_000),
    unitAmountMinor: Minor.openapi({ description: 'Per unit, in minor units (cents); for the plan line, its price per cycle' }),
    planId: Id('plan').optional().openapi({ description: 'The plan this line subscribes to: the service the order provisions' }),
  })
  .openapi('QuoteLineInput');

export const QuoteBody = z
  .object({
    customerId: Id('customer'),
    title: z.string().trim().min(1).max(200),
    cycle: z.enum(BILLING_CYCLES).openapi({ description: "The plan line's billing cycle" }),
    lines: z
      .array(QuoteLineInput)
      .min(1, 'at least one line')
      .max(100)
      .refine((ls) => ls.filter((l) => l.planId).length === 1, 'exactly one line names a planId: the service the order provisions')
      .refine((ls) => ls.every((l) => !l.planId || l.quantity === 1), 'the plan line has quantity 1'),
    validUntil: z.iso.datetime({ offset: true, error: 'an ISO 8601 date-time like 2026-12-31T23:59:59Z' }),
    notes: z.string().max(5000).default(''),
  })
  .openapi('QuoteInput');
export type QuoteBody = z.infer<typeof QuoteBody>;

export const QuoteSchema = z
  .object({
    id: z.string(),
    reference: z.string(),
    customer: z.object({ id: z.string(), name: z.string() }),
    title: z.string(),
    currency: z.string(),
    cycle: z.enum(BILLING_CYCLES),
    /** What the plan line provisions (`proxmox_vm`, `proxmox_lxc`, `service`…): a server asks for a login when accepted. */
    provisions: z.string(),
    lines: z.array(z.object({ description: z.string(), quantity: z.number(), unitAmountMinor: z.number(), totalMinor: z.number(), planId: z.string().nullable() })),
    totalMinor: z.number(),
    validUntil: z.string(),
    notes: z.string(),
    status: z.enum(QUOTE_STATUSES),
    /** Sent and past `validUntil`: it can no longer be accepted. */
    expired: z.boolean(),
    orderId: z.string().nullable(),
    sentAt: z.string().nullable(),
    decidedAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Quote');

export const QuoteListSchema = z.object({ items: z.array(QuoteSchema) }).openapi('QuoteList');
export const QuoteListQuery = z.object({
  status: z.enum(QUOTE_STATUSES).optional(),
  customerId: Id('customer').optional(),
});
