import type { KycCaseInput, ProviderDecision } from '@keelson/activities/kyc/types';
import { decryptSecret, encryptSecret } from '@keelson/common/codec';
import { KYC_OPERATION, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { writeAudit } from '@keelson/db';
import { customers, kycProviderEvents, kycProviderSettings } from '@keelson/db/schema';
import { and, eq } from 'drizzle-orm';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { AppDeps } from '../../deps';
import { auditActor, type ServiceContext } from '../context';
import { customerResource } from '../customer-scope';
import { forTenant } from '../tenant-scope';
import { kycTimeline } from './kyc-service';

/** Sumsub's digest algorithms (`X-Payload-Digest-Alg`) and the HMAC each names. */
const DIGEST_ALGS: Record<string, string> = { HMAC_SHA1_HEX: 'sha1', HMAC_SHA256_HEX: 'sha256', HMAC_SHA512_HEX: 'sha512' };

/** The signature of a webhook body as Sumsub computes it: HMAC over the raw bytes, hex. */
export function sumsubDigest(secret: string, rawBody: Buffer, alg = 'HMAC_SHA256_HEX'): string {
  return createHmac(DIGEST_ALGS[alg] ?? 'sha256', secret).update(rawBody).digest('hex');
}

/** Only what Keelson reads from an `applicantReviewed` event; the rest is ignored. */
const Reviewed = z.object({
  type: z.string().max(100),
  correlationId: z.string().min(1).max(200),
  externalUserId: z.string().max(200),
  createdAtMs: z.union([z.string().max(40), z.number()]),
  reviewResult: z
    .object({
      reviewAnswer: z.enum(['GREEN', 'RED']),
      reviewRejectType: z.enum(['RETRY', 'FINAL']).optional(),
      moderationComment: z.string().max(2000).optional(),
    })
    .optional(),
});

export interface ProviderWebhookResult {
  status: 200 | 202 | 400 | 401 | 404 | 503;
  outcome: 'applied' | 'duplicate' | 'ignored' | 'rejected' | 'failed';
  reason: string;
}

/** Sets the organization's external provider and its webhook secret (sealed with the key ring, never returned). */
export async function setProviderSettings(ctx: ServiceContext, body: { provider: 'sumsub'; webhookSecret: string }) {
  const tenantId = ctx.principal.tenantId;
  const sealed = encryptSecret(ctx.deps.keys, body.webhookSecret);
  await ctx.deps.db.transaction(async (tx) => {
    await tx
      .insert(kycProviderSettings)
      .values({ tenantId, provider: body.provider, webhookSecretSealed: sealed })
      .onConflictDoUpdate({ target: kycProviderSettings.tenantId, set: { provider: body.provider, webhookSecretSealed: sealed, updatedAt: new Date() } });
    await writeAudit(tx, { ...auditActor(ctx), action: 'kyc.provider.update', resourceType: 'kyc_provider', resourceId: tenantId, details: { provider: body.provider } });
  });
  return { provider: body.provider, webhookUrl: `/api/webhooks/kyc/${body.provider}/${tenantId}` };
}

/**
 * A Sumsub-style review webhook for one organization: the digest is verified over the raw body
 * before anything is parsed; each event (its correlation id) is taken once by a unique index;
 * the decision goes to the customer's case workflow, which applies it only if it is newer (in
 * the provider's time) than the last one it applied — a stale or replayed event never downgrades.
 */
export async function receiveProviderWebhook(deps: AppDeps, tenantId: string, rawBody: Buffer, header: (name: string) => string | undefined): Promise<ProviderWebhookResult> {
  const [settings] = await deps.db.select().from(kycProviderSettings).where(eq(kycProviderSettings.tenantId, tenantId));
  // Unknown organization and a bad digest answer alike: nothing to learn from probing.
  const alg = header('x-payload-digest-alg') ?? 'HMAC_SHA256_HEX';
  const given = header('x-payload-digest') ?? '';
  if (!settings || !DIGEST_ALGS[alg] || !/^[0-9a-f]+$/i.test(given)) return { status: 401, outcome: 'rejected', reason: 'the payload digest does not verify' };
  const expected = Buffer.from(sumsubDigest(decryptSecret(deps.keys, settings.webhookSecretSealed), rawBody, alg), 'hex');
  const provided = Buffer.from(given, 'hex');
  if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) return { status: 401, outcome: 'rejected', reason: 'the payload digest does not verify' };

  let parsed: z.infer<typeof Reviewed>;
  try {
    const result = Reviewed.safeParse(JSON.parse(rawBody.toString('utf8')));
    if (!result.success) return { status: 400, outcome: 'rejected', reason: result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') };
    parsed = result.data;
  } catch {
    return { status: 400, outcome: 'rejected', reason: 'the body is not JSON' };
  }
  if (parsed.type !== 'applicantReviewed' || !parsed.reviewResult) return { status: 202, outcome: 'ignored', reason: `event ${parsed.type} carries no decision` };
  // Sumsub writes "2020-02-21 13:23:19.111" in UTC.
  const stamp = String(parsed.createdAtMs);
  const decidedAtMs = typeof parsed.createdAtMs === 'number' ? parsed.createdAtMs : Date.parse(stamp.replace(' ', 'T') + (/(z|[+-]\d\d:?\d\d)$/i.test(stamp) ? '' : 'Z'));
  if (!Number.isFinite(decidedAtMs)) return { status: 400, outcome: 'rejected', reason: 'createdAtMs: not a time' };
  const customerId = z.uuid().safeParse(parsed.externalUserId);
  if (!customerId.success) return { status: 202, outcome: 'ignored', reason: 'externalUserId is not a customer of this organization' };
  const [customer] = await deps.db.select({ id: customers.id }).from(customers).where(and(eq(customers.tenantId, tenantId), eq(customers.id, customerId.data)));
  if (!customer) return { status: 202, outcome: 'ignored', reason: 'externalUserId is not a customer of this organization' };

  const review = parsed.reviewResult;
  const [claimed] = await deps.db
    .insert(kycProviderEvents)
    .values({ tenantId, provider: settings.provider, eventId: parsed.correlationId, customerId: customer.id, answer: review.reviewAnswer, rejectType: review.reviewRejectType ?? null, decidedAtMs })
    .onConflictDoNothing()
    .returning({ id: kycProviderEvents.id });
  if (!claimed) return { status: 200, outcome: 'duplicate', reason: `event ${parsed.correlationId} was already received` };

  const decision: ProviderDecision = {
    provider: settings.provider,
    eventId: parsed.correlationId,
    answer: review.reviewAnswer,
    rejectType: review.reviewAnswer === 'RED' ? (review.reviewRejectType ?? 'RETRY') : null,
    decidedAtMs,
    comment: review.moderationComment ?? null,
  };
  const actor = `webhook:${settings.provider}`;
  const input: KycCaseInput = { tenantId, customerId: customer.id, highRisk: false, actor, timeline: kycTimeline(deps) };
  try {
    await forTenant(deps, tenantId, () =>
      deps.temporal.workflow.signalWithStart(WorkflowType.kycCase, {
        taskQueue: deps.config.coreTaskQueue,
        workflowId: WorkflowId.kycCase(customer.id),
        args: [input],
        signal: 'providerDecision',
        signalArgs: [decision],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        typedSearchAttributes: runSearchAttributes({ tenantId, operation: KYC_OPERATION, resources: [customerResource(customer.id)], actor }),
      }),
    );
  } catch (err) {
    // Not handed to the case: forget the event so the provider's redelivery is taken.
    await deps.db.delete(kycProviderEvents).where(eq(kycProviderEvents.id, claimed.id));
    return { status: 503, outcome: 'failed', reason: `the decision could not be handed to the case; redeliver later (${(err as Error).message.slice(0, 200)})` };
  }
  return { status: 202, outcome: 'applied', reason: `event ${parsed.correlationId} handed to the case (applied if newer than the last decision)` };
}
