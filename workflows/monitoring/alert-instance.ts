import { WorkflowId } from '@keelson/common/constants';
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { AlertActivities } from '../../activities/monitoring/alerts';
import { subjectOf, textOf } from './messages';
import { sendEmail } from '../mail/send-email';
import type { EvaluateActivities } from '../../activities/monitoring/evaluate';
import type { AcknowledgeInput, AlertCarried, AlertInput, NotificationRequest, Observation } from '../../activities/monitoring/types';

/**
 * One alert: a rule on one resource (`alert/<rule>/<resource>`, or `…/nodata` for its "no data"
 * alert), started or signalled by every evaluation that finds the resource past the threshold.
 *
 *   idle ──breach──▶ pending ──held `for`──▶ firing ──acknowledge──▶ (acknowledged)
 *     ▲                 │                      │
 *     └──not breaching──┘                      └──clear held `for`──▶ resolved (ends)
 *
 * Firing needs the condition to hold for the rule's `for` (checked against a fresh look at the
 * resource); resolving needs the value back past the clear threshold for as long — so a metric
 * flapping around either threshold yields one firing and one resolved, not one per flap. No data
 * and an inhibited resource (its node or cluster down, in maintenance) hold the state. Every send
 * is checked against silences and maintenance first; a firing notification held back is sent when
 * the last matching silence or window ends (a timer), or when one is removed (a signal). Reminders
 * repeat on a timer until acknowledged. Notifications are keyed (alert, sequence, channel).
 */

export const observeSignal = defineSignal<[Observation]>('observe');
/** A silence or maintenance window changed: look again at what is held back. */
export const suppressionChangedSignal = defineSignal('suppressionChanged');
export const acknowledgeUpdate = defineUpdate<AlertCarried, [AcknowledgeInput]>('acknowledge');
export const alertStateQuery = defineQuery<AlertCarried>('alertState');

/**
 * Short Postgres reads and keyed writes run as local activities: no round trip through the server
 * per step, so a notification a silence held goes out within moments of the silence's end.
 */
const record = proxyLocalActivities<
  Pick<AlertActivities, 'recordAlert' | 'checkSuppression' | 'alertChannels' | 'claimNotification' | 'settleNotification'> & Pick<EvaluateActivities, 'observeAlert'>
>({
  startToCloseTimeout: '30s',
  localRetryThreshold: '10s',
  retry: { initialInterval: '500ms', maximumInterval: '10s' },
});
/** Webhooks get 8 attempts over about 4 minutes; the activity records the last one as failed. */
const notify = proxyActivities<Pick<AlertActivities, 'sendNotification'>>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 },
});

/** An alert email is worth sending for a few minutes, not for a day: 8 attempts, like webhooks. */
const emailDelivery = { startToCloseTimeout: '30s', retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 } } as const;

/**
 * One email through the shared mail module, keyed `alert/<alert>/<sequence>/<channel>`: the mail
 * module sends it once (its Message-ID derives from the key) and this alert's row records how it
 * ended.
 */
async function sendAlertEmail(request: NotificationRequest, channel: string): Promise<void> {
  const claimed = await record.claimNotification({ request, channel });
  if (claimed.status !== 'pending') return;
  try {
    const delivery = await sendEmail(
      {
        tenantId: request.tenantId,
        kind: 'alert',
        key: `${request.alertId}/${request.sequence}/${channel}`,
        to: [channel.slice('email:'.length)],
        subject: subjectOf(request),
        text: textOf(request),
        resource: `alert:${request.alertId}`,
      },
      { deliver: emailDelivery },
    );
    await record.settleNotification({ request, channel, status: 'sent', messageId: delivery.messageId });
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    await record.settleNotification({ request, channel, status: 'failed', error: (cause ?? (err as Error)).message.slice(0, 500) });
  }
}

export async function alertInstance(input: AlertInput): Promise<AlertCarried> {
  const s: AlertCarried = input.carried ?? {
    alertId: null,
    phase: 'idle',
    acknowledged: null,
    sequence: 0,
    firingNotified: false,
    owesFiring: false,
    pendingSince: null,
    firedAt: null,
    clearSince: null,
    lastNotifiedAt: null,
    last: null,
    idleSince: Date.now(),
  };
  const workflowId = WorkflowId.alert(input.ruleId, input.resourceId, input.kind === 'nodata' ? 'nodata' : 'metric');
  const inbox: Observation[] = [];
  let suppressionDirty = false;
  let recheckAt: number | null = null;
  let suppressedBy: string | null = null;
  let ack: { request: AcknowledgeInput; done: boolean } | null = null;

  setHandler(observeSignal, (o) => void inbox.push(o));
  setHandler(suppressionChangedSignal, () => void (suppressionDirty = true));
  setHandler(alertStateQuery, () => s);
  setHandler(
    acknowledgeUpdate,
    async (request) => {
      const mine = { request, done: false };
      ack = mine;
      await condition(() => mine.done);
      return s;
    },
    {
      validator: (request) => {
        if (s.phase !== 'firing') throw new Error(`only a firing alert can be acknowledged; this one is ${s.phase}`);
        if (s.acknowledged || ack) throw new Error(`already acknowledged by ${s.acknowledged?.by ?? ack?.request.by}`);
        if (!request.by) throw new Error('acknowledge needs who acknowledges');
      },
    },
  );

  const rule = () => s.last!.rule;
  /** A "no data" alert fires and resolves as soon as it is told: its wait was the rule's no-data time. */
  const holdMs = () => (input.kind === 'nodata' || !s.last ? 0 : rule().forSeconds * 1000);
  const staleMs = () => Math.max(input.intervalMs * 3, 1000);
  const idleTimeoutMs = () => Math.max(input.intervalMs * 5, holdMs() * 2, 10_000);

  function summary(): string {
    const r = s.last?.rule;
    if (input.kind === 'nodata') return `${input.resourceName} has sent no data for ${r?.name ?? 'its rule'}`;
    const value = s.last?.value;
    const shown = value == null ? 'unknown' : Number(value.toFixed(2));
    return `${input.resourceName}: ${r?.metric} is ${shown} (${r?.comparison} ${r?.threshold} for ${r?.forSeconds}s)`;
  }

  async function save(state: 'pending' | 'firing' | 'acknowledged' | 'resolved' | 'inactive'): Promise<void> {
    if (!s.alertId || !s.last) return;
    await record.recordAlert({
      alertId: s.alertId,
      tenantId: input.tenantId,
      ruleId: input.ruleId,
      resourceId: input.resourceId,
      kind: input.kind,
      workflowId,
      state,
      severity: rule().severity,
      summary: summary(),
      value: s.last.value,
      threshold: input.kind === 'nodata' ? null : rule().threshold,
      startedAt: s.pendingSince ?? Date.now(),
      firedAt: s.firedAt,
      acknowledgedAt: s.acknowledged?.at ?? null,
      acknowledgedBy: s.acknowledged?.by ?? null,
      acknowledgeComment: s.acknowledged?.comment ?? null,
      resolvedAt: state === 'resolved' ? Date.now() : null,
      suppressedBy,
    });
  }

  const currentState = () => (s.phase === 'firing' ? (s.acknowledged ? 'acknowledged' : 'firing') : s.phase === 'pending' ? 'pending' : s.phase === 'resolved' ? 'resolved' : 'inactive');

  /**
   * Notifications go out in order (a resolved one never overtakes its firing one) but in the
   * background: a slow SMTP server or a webhook being retried never holds the alert's state.
   */
  let outbox: Promise<void> = Promise.resolve();

  function send(event: NotificationRequest['event']): void {
    s.sequence++;
    const request: NotificationRequest = {
      alertId: s.alertId!,
      tenantId: input.tenantId,
      ruleId: input.ruleId,
      resourceId: input.resourceId,
      sequence: s.sequence,
      event,
      alert: {
        ruleName: rule().name,
        resourceName: input.resourceName,
        resourceKind: input.resourceKind,
        kind: input.kind,
        severity: rule().severity,
        summary: summary(),
        value: s.last!.value,
        threshold: input.kind === 'nodata' ? null : rule().threshold,
        firedAt: s.firedAt,
        resolvedAt: event === 'resolved' ? Date.now() : null,
      },
    };
    s.lastNotifiedAt = Date.now();
    outbox = outbox.then(async () => {
      const channels = await record.alertChannels({ ruleId: input.ruleId });
      // A channel that fails for good is recorded by its activity; the others still go out.
      await Promise.all(
        channels
          .map((channel) => (channel.startsWith('email:') ? sendAlertEmail(request, channel) : notify.sendNotification({ request, channel }).then(() => undefined)))
          .map((p) => p.catch(() => undefined)),
      );
    });
  }

  /** Sends the firing notification unless a silence or maintenance holds it; then it is owed. */
  async function sendFiring(): Promise<void> {
    const check = await record.checkSuppression({ tenantId: input.tenantId, ruleId: input.ruleId, resourceId: input.resourceId, severity: rule().severity });
    if (check.suppressed) {
      s.owesFiring = true;
      recheckAt = check.untilMs;
      if (suppressedBy !== check.reason) {
        suppressedBy = check.reason;
        await save(currentState());
      }
      return;
    }
    s.owesFiring = false;
    recheckAt = null;
    suppressedBy = null;
    send(s.firingNotified ? 'reminder' : 'firing');
    s.firingNotified = true;
    await save(currentState());
  }

  async function fire(): Promise<void> {
    s.phase = 'firing';
    s.firedAt = Date.now();
    s.clearSince = null;
    await save('firing');
    await sendFiring();
  }

  async function resolve(): Promise<void> {
    s.phase = 'resolved';
    await save('resolved');
    // Only where the firing went: a resolved message with no firing before it says nothing useful.
    if (!s.firingNotified) return;
    const check = await record.checkSuppression({ tenantId: input.tenantId, ruleId: input.ruleId, resourceId: input.resourceId, severity: rule().severity });
    if (!check.suppressed) send('resolved');
  }

  async function goIdle(): Promise<void> {
    await save('inactive');
    s.phase = 'idle';
    s.alertId = null;
    s.pendingSince = null;
    s.idleSince = Date.now();
  }

  async function apply(o: Observation): Promise<void> {
    s.last = o.status === 'nodata' || o.status === 'inhibited' ? { ...o, value: s.last?.value ?? null } : o;
    switch (s.phase) {
      case 'idle':
        if (o.status !== 'breach') return;
        s.alertId = uuid4();
        s.phase = 'pending';
        s.pendingSince = Date.now();
        s.sequence = 0;
        s.firingNotified = false;
        s.owesFiring = false;
        s.firedAt = null;
        s.acknowledged = null;
        s.idleSince = null;
        await save('pending');
        if (holdMs() === 0) await fire();
        return;
      case 'pending':
        if (o.status === 'between' || o.status === 'clear' || o.status === 'gone') await goIdle();
        return;
      case 'firing':
        if (o.status === 'gone') return resolve();
        if (o.status === 'clear') {
          s.clearSince ??= Date.now();
          if (holdMs() === 0) await resolve();
        } else {
          s.clearSince = null;
        }
        return;
      case 'resolved':
        return;
    }
  }

  /** The last observation, or a fresh look if it is older than an evaluation interval. */
  async function freshLast(): Promise<Observation> {
    if (s.last && Date.now() - s.last.at <= input.intervalMs * 1.5) return s.last;
    const o = await record.observeAlert({ ruleId: input.ruleId, resourceId: input.resourceId, kind: input.kind });
    await apply(o);
    return o;
  }

  function nextWake(): number | null {
    const times: number[] = [];
    if (s.phase === 'pending' && s.pendingSince !== null) times.push(s.pendingSince + holdMs());
    if (s.phase === 'firing' && s.clearSince !== null) times.push(s.clearSince + holdMs());
    if (s.phase === 'firing' && s.firingNotified && !s.acknowledged && s.last && rule().repeatSeconds > 0 && s.lastNotifiedAt !== null) times.push(s.lastNotifiedAt + rule().repeatSeconds * 1000);
    if (s.phase === 'firing' && s.owesFiring && recheckAt !== null) times.push(recheckAt);
    if (s.phase === 'idle' && s.idleSince !== null) times.push(s.idleSince + idleTimeoutMs());
    // Nobody told us anything for a while: look ourselves (an evaluation may have missed us).
    if (s.phase !== 'idle') times.push((s.last?.at ?? Date.now()) + staleMs());
    return times.length ? Math.min(...times) : null;
  }

  while (s.phase !== 'resolved') {
    if (workflowInfo().continueAsNewSuggested && inbox.length === 0 && !ack && allHandlersFinished()) {
      await outbox;
      await continueAsNew<typeof alertInstance>({ ...input, carried: s });
    }
    const wake = nextWake();
    await condition(() => inbox.length > 0 || ack !== null || suppressionDirty, wake === null ? undefined : Math.max(1, wake - Date.now()));
    const now = Date.now();

    // Evaluations may race and arrive out of order: only newer observations count.
    const fresh = inbox.splice(0).sort((a, b) => a.at - b.at);
    for (const o of fresh) if (!s.last || o.at > s.last.at || s.phase === 'idle') await apply(o);

    if (ack) {
      const current = ack as { request: AcknowledgeInput; done: boolean };
      if (s.phase === 'firing' && !s.acknowledged) {
        s.acknowledged = { by: current.request.by, comment: current.request.comment, at: now };
        await save('acknowledged');
      }
      current.done = true;
      ack = null;
    }

    if (s.phase === 'pending' && s.pendingSince !== null && now >= s.pendingSince + holdMs()) {
      const o = await freshLast();
      if (s.phase === 'pending' && o.status === 'breach') await fire();
    } else if (s.phase === 'firing' && s.clearSince !== null && now >= s.clearSince + holdMs()) {
      const o = await freshLast();
      if (s.phase === 'firing' && s.clearSince !== null && o.status === 'clear') await resolve();
    } else if ((s.phase === 'pending' || s.phase === 'firing') && s.last && now >= s.last.at + staleMs()) {
      await apply(await record.observeAlert({ ruleId: input.ruleId, resourceId: input.resourceId, kind: input.kind }));
    }

    if (s.phase === 'firing') {
      if (s.owesFiring && (suppressionDirty || (recheckAt !== null && now >= recheckAt))) await sendFiring();
      else if (!s.owesFiring && s.firingNotified && !s.acknowledged && rule().repeatSeconds > 0 && s.lastNotifiedAt !== null && now >= s.lastNotifiedAt + rule().repeatSeconds * 1000) {
        const check = await record.checkSuppression({ tenantId: input.tenantId, ruleId: input.ruleId, resourceId: input.resourceId, severity: rule().severity });
        if (check.suppressed) s.lastNotifiedAt = now;
        else send('reminder');
      }
    }
    suppressionDirty = false;

    if (s.phase === 'idle' && s.idleSince !== null && now >= s.idleSince + idleTimeoutMs() && inbox.length === 0) break;
  }
  await outbox;
  await condition(allHandlersFinished);
  return s;
}
