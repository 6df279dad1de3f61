import { createRoute, z } from '@hono/zod-openapi';
import { createRouter } from '../../router';
import { ErrorSchema, jsonResponse } from '../../schemas';
import { receiveProviderWebhook } from '../../services/kyc/provider-webhook';

const Params = z.object({
  provider: z.enum(['sumsub']).openapi({ param: { name: 'provider', in: 'path' } }),
  tenantId: z.uuid({ error: 'must be an organization id (UUID)' }).openapi({ param: { name: 'tenantId', in: 'path' } }),
});
const Outcome = z.object({ outcome: z.string(), reason: z.string() }).openapi('KycWebhookOutcome');

const receive = createRoute({
  method: 'post',
  path: '/{provider}/{tenantId}',
  tags: ['webhooks', 'kyc'],
  summary: 'Review decisions of an external KYC provider (Sumsub-style: X-Payload-Digest HMAC over the raw body)',
  description:
    'Verified before anything is parsed. An `applicantReviewed` event (GREEN, or RED with RETRY/FINAL) for a customer (`externalUserId`) goes to its case, which applies it only if newer than the last decision applied (202); a repeated event (same correlationId) changes nothing (200).',
  request: { params: Params },
  responses: {
    200: jsonResponse(Outcome, 'A duplicate: nothing done'),
    202: jsonResponse(Outcome, 'Handed to the case, or ignored with a reason'),
    400: jsonResponse(Outcome, 'Verified, but not a review event Keelson reads'),
    401: jsonResponse(Outcome, 'The digest does not verify'),
    413: jsonResponse(ErrorSchema, 'Body larger than 1 MiB'),
    503: jsonResponse(Outcome, 'Could not be handed to the case; redeliver later'),
  },
});

/** Mounted at /api/webhooks/kyc; no session: each request proves itself with the organization's webhook secret. */
export function kycWebhookRoutes() {
  return createRouter().openapi(receive, async (c) => {
    const { tenantId } = c.req.valid('param');
    const rawBody = Buffer.from(await c.req.arrayBuffer());
    const { status, ...result } = await receiveProviderWebhook(c.get('deps'), tenantId, rawBody, (n) => c.req.header(n));
    return c.json(result, status as 200);
  });
}
