import { decryptSecret, type KeyRing } from '@keelson/common/codec';
import type { Database } from '@keelson/db';
import { alertNotifications, alertRules, alerts, alertSilences, maintenanceWindows, monitoredResources } from '@keelson/db/schema';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { and, eq, gt, lte, sql } from 'drizzle-orm';
import { createHash, createHmac } from 'node:crypto';
import { windowOpen } from './evaluate';
import { notificationFailures, notificationsSent, webhookDeliveries } from './prometheus';
import { inScope, type ResourceView } from './rules';
import type { AlertRecordPatch, NotificationOutcome, NotificationRequest, Suppression } from './types';

/**
 * The side effects of an alert workflow: its record, the suppression check before every send,
 * and notifications. Each notification is a row keyed by (alert, sequence, channel) before
 * anything is sent; a retry or a replay finds the row and sends nothing twice that was sent.
 * Emails go through the shared mail module (activities/mail) under the business key
 * `alert/<alert>/<sequence>/<channel>`, which gives them their deterministic Message-ID; webhooks
 * carry a delivery id and an HMAC-SHA256 signature over `<timestamp>.<body>`
 * (`X-Keelson-Signature: t=<unix>,v1=<hex>`).
 */

export interface AlertActivityDeps {
  db: Database;
  keys: KeyRing;
  /** Attempts a webhook gets (the activity's retry policy must allow as many). Default 8. */
  webhookAttempts?: number;
  webhookTimeoutMs?: number;
}

const ms = (value: number | null | undefined) => (value == null ? null : new Date(value));

/** `<alert-…@keelson>`: the same for every attempt at the same (alert, sequence, channel). */
export function alertMessageId(alertId: string, sequence: number, channel: string): string {
  return `<alert-${alertId}-${sequence}-${createHash('sha256').update(channel).digest('hex').slice(0, 12)}@keelson>`;
}

/** The signature header for a webhook body; receivers recompute it with their copy of the secret. */
export function signWebhook(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function createAlertActivities(deps: AlertActivityDeps) {
  const { db } = deps;
  const webhookAttempts = deps.webhookAttempts ?? 8;

  async function claim(req: NotificationRequest, channel: string) {
    await db
      .insert(alertNotifications)
      .values({ tenantId: req.tenantId, alertId: req.alertId, sequence: req.sequence, channel, event: req.event, messageId: alertMessageId(req.alertId, req.sequence, channel) })
      .onConflictDoNothing();
    const [row] = await db
      .update(alertNotifications)
      .set({ attempts: sql`${alertNotifications.attempts} + 1` })
      .where(and(eq(alertNotifications.alertId, req.alertId), eq(alertNotifications.sequence, req.sequence), eq(alertNotifications.channel, channel)))
      .returning();
    return row!;
  }

  async function settle(id: string, status: 'sent' | 'failed', error?: string) {
    await db
      .update(alertNotifications)
      .set({ status, lastError: error ?? null, ...(status === 'sent' ? { sentAt: sql`now()` } : {}) })
      .where(eq(alertNotifications.id, id));
  }

  return {
    async recordAlert(p: AlertRecordPatch): Promise<void> {
      const values = {
        id: p.alertId,
        tenantId: p.tenantId,
        ruleId: p.ruleId,
        resourceId: p.resourceId,
        kind: p.kind,
        workflowId: p.workflowId,
        state: p.state,
        severity: p.severity,
        summary: p.summary,
        value: p.value,
        threshold: p.threshold,
        startedAt: new Date(p.startedAt),
        firedAt: ms(p.firedAt),
        acknowledgedAt: ms(p.acknowledgedAt),
        acknowledgedBy: p.acknowledgedBy ?? null,
        acknowledgeComment: p.acknowledgeComment ?? null,
        resolvedAt: ms(p.resolvedAt),
        suppressedBy: p.suppressedBy ?? null,
        updatedAt: new Date(),
      };
      const { id: _id, tenantId: _t, ...update } = values;
      // The rule or the resource may have been deleted meanwhile: keep the record, lose the link.
      const [rule] = await db.select({ id: alertRules.id }).from(alertRules).where(eq(alertRules.id, p.ruleId));
      const [resource] = await db.select({ id: monitoredResources.id }).from(monitoredResources).where(eq(monitoredResources.id, p.resourceId));
      const linked = { ruleId: rule ? p.ruleId : null, resourceId: resource ? p.resourceId : null };
      await db
        .insert(alerts)
        .values({ ...values, ...linked })
        .onConflictDoUpdate({ target: alerts.id, set: { ...update, ...linked } });
    },

    /** Whether a notification for this alert may go out now, and if not, until when it may not. */
    async checkSuppression(input: { tenantId: string; ruleId: string; resourceId: string; severity: string }): Promise<Suppression> {
      const now = Date.now();
      const [resource] = await db.select().from(monitoredResources).where(and(eq(monitoredResources.tenantId, input.tenantId), eq(monitoredResources.id, input.resourceId)));
      const silences = await db
        .select()
        .from(alertSilences)
        .where(and(eq(alertSilences.tenantId, input.tenantId), lte(alertSilences.startsAt, new Date(now)), gt(alertSilences.endsAt, new Date(now))));
      const matching = silences.filter((s) => {
        const m = s.matchers;
        return (
          (m.ruleId === undefined || m.ruleId === input.ruleId) &&
          (m.resourceId === undefined || m.resourceId === input.resourceId) &&
          (m.severity === undefined || m.severity === input.severity) &&
          (m.tag === undefined || (resource?.tags ?? []).includes(m.tag))
        );
      });
      let reason: string | null = matching.length ? `silence ${matching[0]!.id}` : null;
      let until = matching.reduce((latest, s) => Math.max(latest, s.endsAt.getTime()), 0);
      if (resource) {
        const all = new Map<string, ResourceView>([[resource.id, resource]]);
        // Scopes that name a node need the node's row too.
        for (const w of await db.select().from(maintenanceWindows).where(eq(maintenanceWindows.tenantId, input.tenantId))) {
          const open = windowOpen(w, now);
          if (!open.open) continue;
          if (w.scope.type === 'node' && !all.has(w.scope.resourceId)) {
            const [node] = await db.select().from(monitoredResources).where(and(eq(monitoredResources.tenantId, input.tenantId), eq(monitoredResources.id, w.scope.resourceId)));
            if (node) all.set(node.id, node);
          }
          if (!inScope(w.scope, resource, all)) continue;
          reason ??= `maintenance "${w.name}"`;
          until = Math.max(until, open.endsAt);
        }
      }
      return { suppressed: reason !== null, reason, untilMs: reason ? until : null };
    },

    /** The rule's channels as they are now: `email:<address>` for each address, `webhook` if set. */
    async alertChannels(input: { ruleId: string }): Promise<string[]> {
      const [rule] = await db.select({ emails: alertRules.emails, webhookUrl: alertRules.webhookUrl }).from(alertRules).where(eq(alertRules.id, input.ruleId));
      if (!rule) return [];
      return [...rule.emails.map((e) => `email:${e}`), ...(rule.webhookUrl ? ['webhook'] : [])];
    },

    /** Records a notification before it is sent (a repeat finds it); says whether it still needs sending. */
    async claimNotification(input: { request: NotificationRequest; channel: string }): Promise<{ status: 'pending' | 'sent' | 'failed' }> {
      const row = await claim(input.request, input.channel);
      return { status: row.status };
    },

    /** Records how a notification sent elsewhere (an email, through the mail module) ended. */
    async settleNotification(input: { request: NotificationRequest; channel: string; status: 'sent' | 'failed'; error?: string; messageId?: string }): Promise<void> {
      const type = input.channel.startsWith('email:') ? 'email' : 'webhook';
      await db
        .update(alertNotifications)
        .set({ status: input.status, lastError: input.error ?? null, ...(input.messageId ? { messageId: input.messageId } : {}), ...(input.status === 'sent' ? { sentAt: sql`now()` } : {}) })
        .where(and(eq(alertNotifications.alertId, input.request.alertId), eq(alertNotifications.sequence, input.request.sequence), eq(alertNotifications.channel, input.channel)));
      if (input.status === 'sent') notificationsSent.inc({ channel: type, event: input.request.event });
      else notificationFailures.inc({ channel: type, final: 'true' });
    },

    async sendNotification(input: { request: NotificationRequest; channel: string }): Promise<NotificationOutcome> {
      const { request: req, channel } = input;
      const row = await claim(req, channel);
      if (row.status === 'sent') return { channel, status: 'sent' };
      if (row.status === 'failed') return { channel, status: 'failed', error: row.lastError ?? undefined };
      const attempt = Context.current().info.attempt;
      const type = channel.startsWith('email:') ? 'email' : 'webhook';

      const fail = async (error: string, retryable: boolean): Promise<NotificationOutcome> => {
        const final = !retryable || attempt >= webhookAttempts;
        notificationFailures.inc({ channel: type, final: String(final) });
        if (type === 'webhook') webhookDeliveries.inc({ direction: 'outgoing', provider: 'alert', outcome: final ? 'failed' : 'retrying' });
        if (final) {
          await settle(row.id, 'failed', error);
          return { channel, status: 'failed', error };
        }
        await db.update(alertNotifications).set({ lastError: error }).where(eq(alertNotifications.id, row.id));
        throw ApplicationFailure.retryable(error, 'NotificationFailed');
      };

      if (type === 'email') return fail('emails are sent by the workflow through the mail module', false);

      const [rule] = await db.select({ url: alertRules.webhookUrl, secret: alertRules.webhookSecretSealed }).from(alertRules).where(eq(alertRules.id, req.ruleId));
      if (!rule?.url) return fail('the rule has no webhook any more', false);
      // The same bytes on every attempt: receivers deduplicate by the delivery id.
      const body = JSON.stringify({ id: row.id, event: `alert.${req.event}`, sequence: req.sequence, createdAt: row.createdAt.toISOString(), alert: { id: req.alertId, ruleId: req.ruleId, resourceId: req.resourceId, ...req.alert } });
      const timestamp = Math.floor(Date.now() / 1000);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'Keelson-Alerts/1',
        'x-keelson-delivery': row.id,
        'x-keelson-event': `alert.${req.event}`,
        ...(rule.secret ? { 'x-keelson-signature': signWebhook(decryptSecret(deps.keys, rule.secret), body, timestamp) } : {}),
      };
      let res: Response;
      try {
        res = await fetch(rule.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(deps.webhookTimeoutMs ?? 10_000) });
        await res.arrayBuffer().catch(() => undefined);
      } catch (err) {
        return fail(`webhook unreachable: ${(err as Error).message}`, true);
      }
      if (res.status < 200 || res.status >= 300) {
        // A 4xx other than timeouts and rate limits will not change by repeating.
        const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
        return fail(`webhook answered ${res.status}`, retryable);
      }
      await settle(row.id, 'sent');
      notificationsSent.inc({ channel: 'webhook', event: req.event });
      webhookDeliveries.inc({ direction: 'outgoing', provider: 'alert', outcome: 'delivered' });
      return { channel, status: 'sent' };
    },
  };
}

export type AlertActivities = ReturnType<typeof createAlertActivities>;
