import { createRoute, z } from '@hono/zod-openapi';
import { ENCODING_ENCRYPTED, payloadFromJson, payloadTenant, payloadToJson } from '@keelson/common/codec';
import { runForTenant } from '@keelson/common/tenant-scope';
import { payloadCodec } from '../../services/payload-codec';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse } from '../../schemas';
import { ForbiddenError, ValidationError } from '../../errors';

const Payloads = z
  .object({
    payloads: z
      .array(z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() }))
      .max(1000),
  })
  .openapi('CodecPayloads');

const tags = ['codec'];
const decode = createRoute({
  method: 'post',
  path: '/decode',
  tags,
  summary: "Temporal remote codec: decrypt payloads (for Temporal's UI and CLI)",
  middleware: [requirePermission('workflow.payloads')] as const,
  request: { body: jsonBody(Payloads) },
  responses: { 200: jsonResponse(Payloads, 'Decoded payloads'), ...errorResponses },
});
const encode = createRoute({
  method: 'post',
  path: '/encode',
  tags,
  summary: 'Temporal remote codec: encrypt payloads',
  middleware: [requirePermission('workflow.payloads')] as const,
  request: { body: jsonBody(Payloads) },
  responses: { 200: jsonResponse(Payloads, 'Encoded payloads'), ...errorResponses },
});

/**
 * Mounted at /api/codec; CORS for Temporal's UI is applied in app.ts before authentication.
 *
 * Decodes only payloads sealed for the caller's organization: one bound to another organization,
 * or sealed with the key ring alone (payloads from before per-organization keys, and payloads of
 * no organization), is a 403 — the run views, which check a run's organization first, still show
 * those. Errors never echo what was inside.
 */
export function codecRoutes() {
  return createRouter()
    .openapi(decode, async (c) => {
      const codec = payloadCodec(c.get('deps'));
      const tenantId = c.get('principal').tenantId;
      const payloads = c.req.valid('json').payloads.map(payloadFromJson);
      for (const [i, payload] of payloads.entries()) {
        const encoding = payload.metadata?.encoding ? Buffer.from(payload.metadata.encoding).toString() : '';
        if (encoding !== ENCODING_ENCRYPTED) continue;
        const owner = payloadTenant(payload);
        if (owner !== tenantId) {
          throw new ForbiddenError(`payloads[${i}] ${owner ? 'belongs to another organization' : 'is not sealed for an organization'}; it cannot be decoded here`);
        }
      }
      try {
        const out = await codec.decode(payloads);
        return c.json({ payloads: out.map(payloadToJson) }, 200);
      } catch {
        throw new ValidationError('payloads could not be decoded (damaged, or sealed with a key this deployment does not have)');
      }
    })
    .openapi(encode, async (c) => {
      const codec = payloadCodec(c.get('deps'));
      const out = await runForTenant(c.get('principal').tenantId, () => codec.encode(c.req.valid('json').payloads.map(payloadFromJson)));
      return c.json({ payloads: out.map(payloadToJson) }, 200);
    });
}
