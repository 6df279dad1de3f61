import { webhookDeliveries as webhookDeliveries_total } from '@keelson/activities/monitoring/prometheus';
import { apps, webhookDeliveries, type DeliveryOutcome, type WebhookProvider } from '@keelson/db/schema';
import { eq } from 'drizzle-orm';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { AppDeps } from '../deps';
import { unsafeTextReason } from '../edge';
import type { RequestMeta } from '../context';
import { requestDeploy, webhookSecretOf } from './apps-service';
import type { ServiceContext } from './context';
import { forTenant } from './tenant-scope';

/** A push as both providers describe it, once verified and parsed. */
interface Push {
  ref: string;
  commit: string | null;
  /** The branch was deleted (nothing to deploy). */
  deleted: boolean;
}

export interface DeliveryHeaders {
  get(name: string): string | undefined;
}

export interface DeliveryResult {
  status: 200 | 202 | 400 | 401 | 503;
  outcome: DeliveryOutcome;
  reason: string;
  deliveryId?: string;
  releaseId?: string;
  workflowId?: string;
}

const ZERO_SHA = /^0{40}$/;
const Sha = z.string().regex(/^[0-9a-f]{40}$/, 'a 40-character commit id');

/** A git ref as stored and compared: bounded, and text Postgres can hold (see edge.ts). */
const Ref = z
  .string()
  .min(1)
  .max(1000)
  .superRefine((ref, ctx) => {
    const reason = unsafeTextReason(ref);
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  });

// Only what Keelson reads from the real payloads; everything else in them is ignored.
const GitHubPush = z.object({ ref: Ref, after: Sha, deleted: z.boolean().optional() });
const GitLabPush = z.object({ object_kind: z.literal('push'), ref: Ref, after: Sha, checkout_sha: Sha.nullable().optional() });

interface Provider {
  /** The provider's delivery id, the idempotency key. */
  deliveryHeader: string;
  /** Whether the request proves it knows the app's secret. Must run before anything is parsed. */
  verify(secret: string, rawBody: Buffer, headers: DeliveryHeaders): boolean;
  /** The event name, and whether it is a push. */
  event(headers: DeliveryHeaders): { name: string | null; push: boolean; ping: boolean };
  parsePush(body: unknown): Push;
}

const sameSecret = (a: string, b: string) => timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

export const PROVIDERS: Record<WebhookProvider, Provider> = {
  github: {
    deliveryHeader: 'x-github-delivery',
    verify(secret, rawBody, headers) {
      const signature = headers.get('x-hub-signature-256') ?? '';
      if (!/^sha256=[0-9a-f]{64}$/.test(signature)) return false;
      const expected = createHmac('sha256', secret).update(rawBody).digest();
      return timingSafeEqual(expected, Buffer.from(signature.slice('sha256='.length), 'hex'));
    },
    event(headers) {
      const name = headers.get('x-github-event') ?? null;
      return { name, push: name === 'push', ping: name === 'ping' };
    },
    parsePush(body) {
      const p = GitHubPush.parse(body);
      return { ref: p.ref, commit: p.after, deleted: Boolean(p.deleted) || ZERO_SHA.test(p.after) };
    },
  },
  gitlab: {
    deliveryHeader: 'x-gitlab-event-uuid',
    verify(secret, _rawBody, headers) {
      const token = headers.get('x-gitlab-token');
      return token !== undefined && sameSecret(token, secret);
    },
    event(headers) {
      const name = headers.get('x-gitlab-event') ?? null;
      return { name, push: name === 'Push Hook', ping: false };
    },
    parsePush(body) {
      const p = GitLabPush.parse(body);
      const commit = p.checkout_sha ?? p.after;
      return { ref: p.ref, commit, deleted: ZERO_SHA.test(p.after) };
    },
  },
};

/**
 * Handles one push webhook for an app: verify first (nothing is parsed before the signature or
 * token checks out), then decide, record the delivery with its outcome, and queue a deploy for a
 * push to the app's branch. A verified delivery id is claimed in the same statement that records
 * it (unique index), so a redelivery — even a concurrent one — never starts a second deploy.
 */
export async function receiveWebhook(
  deps: AppDeps,
  meta: RequestMeta,
  input: { provider: WebhookProvider; appId: string; rawBody: Buffer; headers: DeliveryHeaders },
): Promise<DeliveryResult> {
  const provider = PROVIDERS[input.provider];
  const [app] = await deps.db.select().from(apps).where(eq(apps.id, input.appId));
  // Nothing to verify against, and nothing to record it under.
  if (!app) return { status: 202, outcome: 'ignored', reason: 'no such app' };

  const externalId = input.headers.get(provider.deliveryHeader)?.slice(0, 200) ?? null;
  const base = { tenantId: app.tenantId, appId: app.id, provider: input.provider, externalId };
  const record = async (outcome: DeliveryOutcome, reason: string, extra: Partial<typeof webhookDeliveries.$inferInsert> = {}) => {
    const [row] = await deps.db.insert(webhookDeliveries).values({ ...base, outcome, reason, ...extra }).returning({ id: webhookDeliveries.id });
    webhookDeliveries_total.inc({ direction: 'incoming', provider: input.provider, outcome });
    return row!.id;
  };

  if (!provider.verify(webhookSecretOf({ deps }, app), input.rawBody, input.headers)) {
    await record('rejected', input.provider === 'github' ? 'signature does not match' : 'token does not match');
    return { status: 401, outcome: 'rejected', reason: 'the signature or token does not verify with this app\'s webhook secret' };
  }

  const event = provider.event(input.headers);
  if (!event.push) {
    const reason = event.ping ? 'ping' : `event ${event.name ?? '(none)'} does not deploy`;
    await record('ignored', reason, { event: event.name });
    return { status: event.ping ? 200 : 202, outcome: 'ignored', reason };
  }
  if (!externalId) {
    await record('malformed', `missing ${provider.deliveryHeader}`, { event: event.name });
    return { status: 400, outcome: 'malformed', reason: `the ${provider.deliveryHeader} header is required` };
  }

  let push: Push;
  try {
    push = provider.parsePush(JSON.parse(input.rawBody.toString('utf8')));
  } catch (err) {
    const reason = err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') : 'body is not JSON';
    await record('malformed', reason, { event: event.name });
    return { status: 400, outcome: 'malformed', reason: `not a ${input.provider} push payload: ${reason}` };
  }

  const fields = { event: event.name, ref: push.ref, commitSha: push.commit };
  const wanted = `refs/heads/${app.branch}`;
  const ignoredWhy = push.ref !== wanted ? `${push.ref} is not the deployed branch (${wanted})` : push.deleted || !push.commit ? 'the branch was deleted' : null;
  if (ignoredWhy) {
    await record('ignored', ignoredWhy, fields);
    return { status: 202, outcome: 'ignored', reason: ignoredWhy };
  }

  const [claimed] = await deps.db
    .insert(webhookDeliveries)
    .values({ ...base, ...fields, idempotencyKey: externalId, outcome: 'queued', reason: `push of ${push.commit!.slice(0, 12)}` })
    .onConflictDoNothing()
    .returning({ id: webhookDeliveries.id });
  if (!claimed) {
    await record('duplicate', `delivery ${externalId} was already received`, fields);
    return { status: 200, outcome: 'duplicate', reason: `delivery ${externalId} was already received; nothing started` };
  }

  const ctx: ServiceContext = {
    deps,
    meta,
    principal: {
      tenantId: app.tenantId,
      actor: `webhook:${input.provider}`,
      actorType: 'webhook',
      actorId: claimed.id,
      userId: null,
      role: null,
      permissions: new Set(),
      sessionId: null,
    },
  };
  try {
    const queued = await forTenant(deps, app.tenantId, () => requestDeploy(ctx, app, { trigger: 'push', commit: push.commit, deliveryId: claimed.id }));
    await deps.db.update(webhookDeliveries).set({ releaseId: queued.releaseId }).where(eq(webhookDeliveries.id, claimed.id));
    return { status: 202, outcome: 'queued', reason: 'deploy queued', deliveryId: claimed.id, releaseId: queued.releaseId, workflowId: queued.workflowId };
  } catch (err) {
    // Give the delivery id back, so the provider's redelivery can try again.
    await deps.db
      .update(webhookDeliveries)
      .set({ outcome: 'failed', idempotencyKey: null, reason: `could not queue the deploy: ${(err as Error).message}` })
      .where(eq(webhookDeliveries.id, claimed.id));
    return { status: 503, outcome: 'failed', reason: 'the deploy could not be queued; redeliver later' };
  }
}
