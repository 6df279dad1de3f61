/**
 * `npm run bench:payments [-- --rounds R --concurrency C]`: how fast the Stripe webhook endpoint
 * answers. The real API over HTTP on the real stack; the organization has Stripe keys; each round
 * sends C signed `payment_intent.succeeded` events at once (each its own event and PaymentIntent,
 * signed with the stripe package's `generateTestHeaderString`), then one event C times at once
 * (one is taken, the rest are duplicates). Reports acknowledgement p50/p99 of each (goal p99 <
 * 200 ms under 50 concurrent deliveries), checks that every distinct event was recorded once, and
 * how long after the last answer every recorded event had been handed to its run.
 */
import { encryptSecret, parseKeyRing } from '@keelson/common/codec';
import { connectDb } from '@keelson/db';
import { stripeEvents, stripeSettings } from '@keelson/db/schema';
import { and, eq, sql } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import Stripe from 'stripe';
import { startBenchPlatform } from './platform';
import { round, summarize } from './stats';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '50' } } });
const ROUNDS = Number(values.rounds);
const C = Number(values.concurrency);
const SECRET = 'whsec_benchSigningSecret0123456789';
const log = (msg: string) => process.stderr.write(`bench:payments │ ${msg}\n`);

const platform = await startBenchPlatform();
const { db, close } = connectDb(platform.dbUrl, { max: 2 });
const signer = new Stripe('sk_test_bench_signing_only');
try {
  const keys = parseKeyRing(platform.keySpec);
  await db.insert(stripeSettings).values({ tenantId: platform.tenantId, secretKeySealed: encryptSecret(keys, 'sk_test_bench0123456789'), secretKeyHint: '6789', webhookSecretSealed: encryptSecret(keys, SECRET) });
  const url = `${platform.baseUrl}/api/webhooks/stripe/${platform.tenantId}`;
  const event = (pi: string) =>
    JSON.stringify({ id: `evt_${randomUUID().replaceAll('-', '')}`, object: 'event', type: 'payment_intent.succeeded', created: Math.floor(Date.now() / 1000), livemode: false, data: { object: { id: pi, object: 'payment_intent', status: 'succeeded', amount: 1000, currency: 'eur' } } });
  const deliver = async (payload: string) => {
    const started = performance.now();
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signer.webhooks.generateTestHeaderString({ payload, secret: SECRET }) }, body: payload });
    const body = (await res.json()) as { outcome: string };
    return { ms: performance.now() - started, status: res.status, outcome: body.outcome };
  };

  // Warm-up: the first request pays for connections and JIT.
  await deliver(event(`pi_warm_${randomUUID().slice(0, 8)}`));
  const distinct: number[] = [];
  const duplicates: number[] = [];
  const outcomes: Record<string, number> = {};
  for (let r = 0; r < ROUNDS; r++) {
    const results = await Promise.all(Array.from({ length: C }, () => deliver(event(`pi_${randomUUID().replaceAll('-', '').slice(0, 24)}`))));
    for (const x of results) {
      distinct.push(x.ms);
      outcomes[`${x.status} ${x.outcome}`] = (outcomes[`${x.status} ${x.outcome}`] ?? 0) + 1;
    }
    const same = event(`pi_same_${r}`);
    const dup = await Promise.all(Array.from({ length: C }, () => deliver(same)));
    for (const x of dup) {
      duplicates.push(x.ms);
      outcomes[`${x.status} ${x.outcome}`] = (outcomes[`${x.status} ${x.outcome}`] ?? 0) + 1;
    }
    log(`round ${r + 1}/${ROUNDS}`);
  }
  const [recorded] = await db.select({ n: sql<number>`count(*)::int` }).from(stripeEvents).where(eq(stripeEvents.tenantId, platform.tenantId));
  // Answered before the hand-over: how long until every recorded event was handed to its run.
  const answeredAt = performance.now();
  let pending = -1;
  while (performance.now() - answeredAt < 120_000) {
    const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(stripeEvents).where(and(eq(stripeEvents.tenantId, platform.tenantId), eq(stripeEvents.handOffPending, true)));
    pending = row!.n;
    if (pending === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const handOffDrainMs = performance.now() - answeredAt;
  const a = summarize(distinct);
  const d = summarize(duplicates);
  console.log(
    JSON.stringify(
      {
        concurrency: C,
        rounds: ROUNDS,
        distinctEventsAckMs: { p50: round(a.p50), p99: round(a.p99), samples: a.samples },
        sameEventAckMs: { p50: round(d.p50), p99: round(d.p99), samples: d.samples },
        goalP99Ms: 200,
        outcomes,
        eventsRecorded: recorded!.n,
        eventsStillPendingHandOff: pending,
        handOffDrainedMsAfterLastAnswer: round(handOffDrainMs),
        eventsExpected: 1 + ROUNDS * C + ROUNDS,
        notes: platform.notes,
      },
      null,
      2,
    ),
  );
} finally {
  await close();
  await platform.close();
}
