import { createRoute, z } from '@hono/zod-openapi';
import { EncryptionCodec, payloadFromJson, payloadToJson } from '@keelson/common/codec';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse } from '../../schemas';
import { ValidationError } from '../../errors';

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

/** Mounted at /api/codec; CORS for Temporal's UI is applied in app.ts before authentication. */
export function codecRoutes() {
  return createRouter()
    .openapi(decode, async (c) => {
      const codec = new EncryptionCodec(c.get('deps').keys);
      try {
        const out = await codec.decode(c.req.valid('json').payloads.map(payloadFromJson));
        return c.json({ payloads: out.map(payloadToJson) }, 200);
      } catch (err) {
        throw new ValidationError(`payloads could not be decoded: ${(err as Error).message}`);
      }
    })
    .openapi(encode, async (c) => {
      const codec = new EncryptionCodec(c.get('deps').keys);
      const out = await codec.encode(c.req.valid('json').payloads.map(payloadFromJson));
      return c.json({ payloads: out.map(payloadToJson) }, 200);
    });
}
