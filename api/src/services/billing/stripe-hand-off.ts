import { signalPaymentIntent } from '@keelson/activities/payments/index';
import { stripeEvents } from '@keelson/db/schema';
import { and, asc, eq, lt } from 'drizzle-orm';
import type { AppDeps } from '../../deps';
import { type PeriodicSweep, startPeriodicSweep } from '../periodic-sweep';

/** A recorded Stripe event about a PaymentIntent, waiting to be handed to its run. */
export interface PendingStripeEvent {
  id: string;
  tenantId: string;
  eventId: string;
  objectId: string | null;
}

/** How often each API process looks for events whose hand-over did not happen, and how old they must be. */
export const STRIPE_HAND_OFF_SWEEP_MS = 5_000;
export const STRIPE_HAND_OFF_GRACE_MS = 10_000;
const MAX_BACKOFF_MS = 60_000;

async function signalRun(deps: Pick<AppDeps, 'temporal' | 'config'>, event: PendingStripeEvent) {
  await signalPaymentIntent(deps.temporal, deps.config.coreTaskQueue, { tenantId: event.tenantId, paymentIntentId: event.objectId!, source: `webhook:${event.eventId}`, actor: 'webhook:stripe' });
}

/**
 * Hands one recorded event to its PaymentIntent's run (signal-with-start), then marks it handed
 * over. The webhook calls it after answering; if it fails — or the process dies before it runs —
 * the row stays pending and the dispatcher does it. Handing an event over twice is harmless: the
 * run reads the PaymentIntent from Stripe, and the ledger takes a payment once.
 */
export async function handOverStripeEvent(deps: Pick<AppDeps, 'db' | 'temporal' | 'config'>, event: PendingStripeEvent): Promise<void> {
  await signalRun(deps, event);
  await deps.db.update(stripeEvents).set({ handOffPending: false }).where(eq(stripeEvents.id, event.id));
}

/**
 * One sweep of the dispatcher: hands over every event still pending after `graceMs` (the
 * webhook's own hand-over failed, or its process died between commit and hand-over). Rows are
 * claimed with SKIP LOCKED, so API processes sweeping at once share the work instead of repeating
 * it; a failed hand-over stays pending for the next sweep. Returns how many were handed over.
 */
export async function handOverPendingStripeEvents(deps: Pick<AppDeps, 'db' | 'temporal' | 'config'>, opts: { graceMs?: number; limit?: number } = {}): Promise<number> {
  const graceMs = opts.graceMs ?? STRIPE_HAND_OFF_GRACE_MS;
  return deps.db.transaction(async (tx) => {
    const rows = await tx
      .select({ id: stripeEvents.id, tenantId: stripeEvents.tenantId, eventId: stripeEvents.eventId, objectId: stripeEvents.objectId })
      .from(stripeEvents)
      .where(and(eq(stripeEvents.handOffPending, true), lt(stripeEvents.receivedAt, new Date(Date.now() - graceMs))))
      .orderBy(asc(stripeEvents.receivedAt))
      .limit(opts.limit ?? 100)
      .for('update', { skipLocked: true });
    let handed = 0;
    for (const row of rows) {
      if (!row.objectId) {
        await tx.update(stripeEvents).set({ handOffPending: false }).where(eq(stripeEvents.id, row.id));
        continue;
      }
      try {
        await signalRun(deps, row);
      } catch {
        continue; // Temporal unreachable: the next sweep tries again
      }
      await tx.update(stripeEvents).set({ handOffPending: false }).where(eq(stripeEvents.id, row.id));
      handed++;
    }
    return handed;
  });
}

export type StripeHandOffDispatcher = PeriodicSweep<number>;

/**
 * The dispatcher each API process runs: a sweep every `everyMs`, backing off (doubling, at most a
 * minute) while sweeps fail, stopped on shutdown. Its first sweep runs at once, so events a dead
 * process left behind are handed over when the next one starts.
 */
export function startStripeHandOffDispatcher(
  deps: Pick<AppDeps, 'db' | 'temporal' | 'config'>,
  opts: { everyMs?: number; graceMs?: number; onError?: (err: unknown) => void } = {},
): StripeHandOffDispatcher {
  return startPeriodicSweep(() => handOverPendingStripeEvents(deps, { graceMs: opts.graceMs }), {
    everyMs: opts.everyMs ?? STRIPE_HAND_OFF_SWEEP_MS,
    maxBackoffMs: MAX_BACKOFF_MS,
    onError: opts.onError,
  });
}
