import { WorkflowId } from '@keelson/common/constants';
import { dunningSteps, outboundEmails, serviceSuspensions } from '@keelson/db/schema';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvoiceDunningSchema, SubscriptionSchema } from '../api/src/routes/billing/schema';
import { api } from './billing-fixtures';
import { createDunningWorld, type DunningWorld } from './dunning-harness';
import { until, workerProcesses } from './worker-process';

/**
 * The whole dunning ladder with scaled days (one ladder day = DAY_MS), the worker process
 * SIGKILLed after every step and in the middle of the card retry, the suspension and the restore: each email
 * reaches the SMTP receiver exactly once, the VM on the simulator is stopped once and started
 * once after the payment, and a VM that staff also suspended stays suspended after the payment.
 */
const DAY_MS = 1_500;

let w: DunningWorld;
const workers = workerProcesses(() => w.p);
/** Ends the test's hold on the attempts table (below); also on the way out of a failed test. */
let releaseCharge = () => {};

beforeAll(async () => {
  w = await createDunningWorld();
}, 120_000);
afterAll(async () => {
  releaseCharge();
  await workers.killAll();
  await w?.close();
});

describe('the dunning ladder under worker kills', () => {
  it('reminds, suspends and restores exactly once; a staff suspension outlives the payment', { timeout: 420_000 }, async () => {
    // The default ladder (reminder D+0, reminder and retry D+3, final notice D+7, suspend D+10,
    // terminate D+30 after an approval), set explicitly as an organization would.
    const settings = await api<{ ladder: unknown[] }>(w.p, w.billing, '/api/billing/dunning');
    expect(settings.ladder).toHaveLength(6);
    await api(w.p, w.billing, '/api/billing/dunning', { method: 'PUT', body: { ...settings, terminationApproval: true } });

    const a = await w.serviceWithVm();
    const b = await w.serviceWithVm();
    let worker = await workers.start({ KEELSON_DUNNING_DAY_MS: String(DAY_MS) });
    const restart = async (why: string) => {
      await workers.kill(worker);
      process.stderr.write(`dunning-kill: SIGKILL ${why}\n`);
      worker = await workers.start({ KEELSON_DUNNING_DAY_MS: String(DAY_MS) });
    };

    const invA = await w.invoiceOf(a.subscriptionId);
    const invB = await w.invoiceOf(b.subscriptionId);
    // Staff suspend B's VM by hand before its ladder gets there.
    await api(w.p, w.billing, `/api/subscriptions/${b.subscriptionId}/suspend`, { body: { note: 'abuse report' }, expect: 202 });

    const stepsDone = async (invoiceId: string) =>
      (await w.p.db.select({ n: sql<number>`count(*)::int` }).from(dunningSteps).where(and(eq(dunningSteps.invoiceId, invoiceId), isNotNull(dunningSteps.doneAt))))[0]!.n;
    // A kill after each of the first five steps of A's ladder (the sixth, termination, never comes).
    const hold = (resource: string, reason: 'overdue' | 'staff') =>
      w.p.db.select().from(serviceSuspensions).where(and(eq(serviceSuspensions.resource, resource), eq(serviceSuspensions.reason, reason))).then((r) => r[0]);
    // The retry (step 3) falls due with the second reminder (step 2). To kill the worker while
    // its charge is in flight, a transaction of ours locks the attempts table against writes
    // (reads go on) until the worker is dead: A's and B's charges (no card: they record the
    // attempt and skip) wait on it. The charge is then tried again once its timeout has passed.
    const chargeReleased = new Promise<void>((resolve) => (releaseCharge = resolve));
    const chargeHeld = w.p.db
      .transaction(async (tx) => {
        await tx.execute(sql`lock table payment_attempts in exclusive mode`);
        await chargeReleased;
        tx.rollback();
      })
      .catch(() => undefined);
    const chargesWaiting = async () =>
      // From pg_locks, not pg_stat_activity's text: a write can wait for the table while Postgres
      // parses it, before its text shows there.
      (
        await w.p.db.execute<{ n: number }>(
          sql`select count(*)::int as n from pg_locks where database = (select oid from pg_database where datname = current_database()) and relation = 'payment_attempts'::regclass and mode = 'RowExclusiveLock' and not granted`,
        )
      ).rows[0]!.n >= 2;
    for (let done = 1; done <= 5; done++) {
      if (done === 5) {
        // And once as the suspension starts: the hold is recorded, the VM not yet stopped.
        await until('the overdue hold recorded', async () => await hold(a.resource, 'overdue'), 120_000);
        await restart(`as the suspension starts (VM ${(await w.vm(a.vmid)).status})`);
      }
      await until(`step ${done} of the ladder`, async () => (await stepsDone(invA.id)) >= done, 120_000);
      if (done !== 2) {
        await restart(`after step ${done}`);
        continue;
      }
      await until("A's and B's retry charges waiting on the attempts table", chargesWaiting, 60_000);
      await restart("after step 2, with the retry's charge in flight");
      const killedAt = Date.now();
      releaseCharge();
      await chargeHeld;
      // Tried again once the charge's timeout (45 s) has passed, not after minutes.
      await until('step 3 of the ladder, after the killed charge', async () => (await stepsDone(invA.id)) >= 3, 90_000);
      process.stderr.write(`dunning-kill: step 3 recorded ${Math.round((Date.now() - killedAt) / 1000)} s after the kill\n`);
    }
    await until('A suspended', async () => (await hold(a.resource, 'overdue'))?.suspendedAt, 120_000);
    await until('B held for overdue too', async () => (await hold(b.resource, 'overdue'))?.suspendedAt, 120_000);
    expect(await w.vm(a.vmid)).toMatchObject({ status: 'stopped', stops: 1, starts: 0 });
    expect(await w.vm(b.vmid)).toMatchObject({ status: 'stopped', stops: 1, starts: 0 });

    // The invoice page shows the ladder as it runs.
    const page = InvoiceDunningSchema.parse(await api(w.p, w.billing, `/api/invoices/${invA.id}/dunning`));
    expect(page.steps.map((s) => [s.kind, s.outcome])).toEqual([
      ['reminder', 'sent'],
      ['reminder', 'sent'],
      ['retry', 'skipped'],
      ['final_notice', 'sent'],
      ['suspend', 'suspended'],
      ['terminate', null],
    ]);
    expect(page.steps.filter((s) => s.email).every((s) => s.email!.status === 'sent')).toBe(true);
    expect(page.suspensions[0]).toMatchObject({ reason: 'overdue', state: 'suspended', source: `invoice:${invA.id}` });

    // Both invoices paid by hand; the worker dies as the restore begins.
    await api(w.p, w.billing, `/api/invoices/${invA.id}/mark-paid`, { method: 'POST' });
    await api(w.p, w.billing, `/api/invoices/${invB.id}/mark-paid`, { method: 'POST' });
    await until('A lifted', async () => (await hold(a.resource, 'overdue'))?.liftedAt, 60_000);
    await restart('during the restore');

    await until('A restored', async () => (await hold(a.resource, 'overdue'))?.restoredAt, 120_000);
    for (const inv of [invA, invB]) {
      const run = w.p.temporal.workflow.getHandle(WorkflowId.dunning(inv.id));
      expect(await run.result()).toEqual({ outcome: 'paid' });
    }
    expect(await w.vm(a.vmid)).toMatchObject({ status: 'running', stops: 1, starts: 1 });
    // B: the overdue hold is lifted, the staff one still holds the VM.
    expect(await hold(b.resource, 'overdue')).toMatchObject({ liftedAt: expect.any(Date), restoredAt: null });
    expect(await w.vm(b.vmid)).toMatchObject({ status: 'stopped', stops: 1, starts: 0 });
    expect(SubscriptionSchema.parse(await api(w.p, w.billing, `/api/subscriptions/${b.subscriptionId}`))).toMatchObject({ suspended: true, suspensionReasons: ['staff'] });

    // Each ladder email reached the receiver exactly once, with the Message-ID recorded for it.
    for (const inv of [invA, invB]) {
      const got = w.smtp.messages.filter((m) => m.subject.includes(`invoice ${inv.number} `));
      expect(got.map((m) => m.subject.split(':')[0]).sort()).toEqual(['Final notice', 'Reminder', 'Reminder']);
      const recorded = await w.p.db.select({ messageId: outboundEmails.messageId }).from(outboundEmails).where(and(eq(outboundEmails.resource, `invoice:${inv.id}`), sql`${outboundEmails.kind} like 'dunning.%'`));
      expect(new Set(got.map((m) => m.messageId))).toEqual(new Set(recorded.map((r) => r.messageId)));
    }

    // Staff lift theirs: now B's VM comes back, once.
    await api(w.p, w.billing, `/api/subscriptions/${b.subscriptionId}/unsuspend`, { method: 'POST', expect: 202 });
    await until('B restored', async () => (await hold(b.resource, 'staff'))?.restoredAt, 120_000);
    expect(await w.vm(b.vmid)).toMatchObject({ status: 'running', stops: 1, starts: 1 });
  });
});
