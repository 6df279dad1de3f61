import { decryptSecret, type KeyRing } from '@keelson/common/codec';
import type { Database } from '@keelson/db';
import { stripeSettings } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';

/**
 * How long an API process verifies an organization's webhooks with the signing secret it read,
 * without reading it again (decision 0035). The process that stores a new secret forgets the old
 * one at once; another API process uses the old one for at most this long. Stripe keeps signing
 * with the old secret while a rolled one expires, and an event verified with it is only a hint:
 * its PaymentIntent is read from Stripe before anything is recorded.
 */
export const STRIPE_WEBHOOK_SECRET_TTL_MS = 30_000;

interface Entry {
  secret: string;
  at: number;
}

/**
 * Each organization's Stripe webhook signing secret, unsealed once per API process and TTL
 * instead of once per delivery: under 50 deliveries at once, the select and the unsealing were
 * half of the webhook's database round trips and pool checkouts (bench/README.md). Organizations
 * without Stripe are not remembered, so a probe of unknown ids costs what it did.
 */
export class StripeWebhookSecrets {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every `forget`, so a read that was in flight across a change is not kept. */
  private generation = 0;

  constructor(
    private readonly db: Database,
    private readonly keys: KeyRing,
    private readonly now: () => number = Date.now,
  ) {}

  /** The organization's signing secret in clear, or null when it has no Stripe account. */
  async secretOf(tenantId: string): Promise<string | null> {
    const hit = this.entries.get(tenantId);
    if (hit && this.now() - hit.at < STRIPE_WEBHOOK_SECRET_TTL_MS) return hit.secret;
    const generation = this.generation;
    const [row] = await this.db.select({ webhookSecretSealed: stripeSettings.webhookSecretSealed }).from(stripeSettings).where(eq(stripeSettings.tenantId, tenantId));
    if (!row) {
      this.entries.delete(tenantId);
      return null;
    }
    const secret = decryptSecret(this.keys, row.webhookSecretSealed);
    if (generation === this.generation) this.entries.set(tenantId, { secret, at: this.now() });
    return secret;
  }

  /** Drops the organization's secret (after its Stripe settings changed); the next delivery reads it. */
  forget(tenantId: string): void {
    this.generation++;
    this.entries.delete(tenantId);
  }
}

const caches = new WeakMap<Database, WeakMap<KeyRing, StripeWebhookSecrets>>();

/** The secrets cache of an API process (one per database handle and key ring, as the app's deps hold them). */
export function stripeWebhookSecrets(deps: { db: Database; keys: KeyRing }): StripeWebhookSecrets {
  let byRing = caches.get(deps.db);
  if (!byRing) caches.set(deps.db, (byRing = new WeakMap()));
  let cache = byRing.get(deps.keys);
  if (!cache) byRing.set(deps.keys, (cache = new StripeWebhookSecrets(deps.db, deps.keys)));
  return cache;
}
