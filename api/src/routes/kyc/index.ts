import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { ValidationError } from '../../errors';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse } from '../../schemas';
import { serviceContext } from '../../services/context';
import { setProviderSettings } from '../../services/kyc/provider-webhook';
import { decideCase, getCase, KYC_MAX_DOCUMENT_BYTES, listCases, openCase, readDocument, revokeCase, submitDocuments, uploadDocument } from '../../services/kyc/kyc-service';
import {
  CaseDetailSchema,
  CaseListQuery,
  CaseListSchema,
  CaseViewSchema,
  CustomerParam,
  DecisionBody,
  DocumentParam,
  DocumentSchema,
  OpenCaseBody,
  OpenedSchema,
  ProviderBody,
  ProviderSchema,
  RevokeBody,
  UploadQuery,
} from './schema';

const tags = ['kyc'];

const list = createRoute({
  method: 'get',
  path: '/cases',
  tags,
  summary: "The reviewer queue: each customer's current case, oldest submission first (a customer user: their own)",
  middleware: [requirePermission('kyc.read')],
  request: { query: CaseListQuery },
  responses: { 200: jsonResponse(CaseListSchema, 'Cases'), ...errorResponses },
});
const get = createRoute({
  method: 'get',
  path: '/cases/{customerId}',
  tags,
  summary: "A customer's current case, its documents and history",
  middleware: [requirePermission('kyc.read')],
  request: { params: CustomerParam },
  responses: { 200: jsonResponse(CaseDetailSchema, 'The case'), ...errorResponses },
});
const open = createRoute({
  method: 'post',
  path: '/cases/{customerId}',
  tags,
  summary: 'Open the customer\'s case (kyc/<customer>); a second call joins the running one',
  middleware: [requirePermission('kyc.submit')],
  request: { params: CustomerParam, body: { content: { 'application/json': { schema: OpenCaseBody } }, required: false } },
  responses: { 202: jsonResponse(OpenedSchema, 'Opened or joined'), ...errorResponses },
});
const upload = createRoute({
  method: 'post',
  path: '/cases/{customerId}/documents',
  tags,
  summary: `Upload an identity document (the raw bytes as the body, at most ${KYC_MAX_DOCUMENT_BYTES} bytes; JPEG, PNG, WebP, HEIC or PDF by content)`,
  middleware: [requirePermission('kyc.submit')],
  request: { params: CustomerParam, query: UploadQuery },
  responses: { 201: jsonResponse(DocumentSchema, 'Stored, sealed'), 413: errorResponses[400], ...errorResponses },
});
const submit = createRoute({
  method: 'post',
  path: '/cases/{customerId}/submit',
  tags,
  summary: 'Submit the uploaded documents for review',
  middleware: [requirePermission('kyc.submit')],
  request: { params: CustomerParam },
  responses: { 200: jsonResponse(CaseViewSchema, 'In review'), ...errorResponses },
});
const decide = createRoute({
  method: 'post',
  path: '/cases/{customerId}/decision',
  tags,
  summary: 'Approve or reject a case in review (answered by the case workflow; 409 names the rule refused)',
  middleware: [requirePermission('kyc.review')],
  request: { params: CustomerParam, body: jsonBody(DecisionBody) },
  responses: { 200: jsonResponse(CaseViewSchema, 'Decided'), ...errorResponses },
});
const revoke = createRoute({
  method: 'post',
  path: '/cases/{customerId}/revoke',
  tags,
  summary: "Withdraw an approval (a reason is required; 409 names the rule refused): the customer's services are suspended for `kyc` until an approval",
  middleware: [requirePermission('kyc.review')],
  request: { params: CustomerParam, body: jsonBody(RevokeBody) },
  responses: { 200: jsonResponse(CaseViewSchema, 'Revoked'), ...errorResponses },
});
const content = createRoute({
  method: 'get',
  path: '/documents/{id}/content',
  tags,
  summary: "A document's content, for reviewers (audited)",
  middleware: [requirePermission('kyc.review')],
  request: { params: DocumentParam },
  responses: { 200: { description: 'The document', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, ...errorResponses },
});

const provider = createRoute({
  method: 'put',
  path: '/provider',
  tags,
  summary: "Set the organization's external KYC provider and its webhook secret (sealed, never returned)",
  middleware: [requirePermission('kyc.review')],
  request: { body: jsonBody(ProviderBody) },
  responses: { 200: jsonResponse(ProviderSchema, 'Saved: where the provider sends its webhooks'), ...errorResponses },
});

/** Mounted at /api/kyc. */
export function kycRoutes() {
  return createRouter()
    .openapi(provider, async (c) => c.json(ProviderSchema.parse(await setProviderSettings(serviceContext(c), c.req.valid('json'))), 200))
    .openapi(list, async (c) => c.json(CaseListSchema.parse({ items: await listCases(serviceContext(c), c.req.valid('query')) }), 200))
    .openapi(get, async (c) => c.json(CaseDetailSchema.parse(await getCase(serviceContext(c), c.req.valid('param').customerId)), 200))
    .openapi(open, async (c) => {
      const text = await c.req.text();
      let body: unknown = {};
      try {
        body = text ? JSON.parse(text) : {};
      } catch {
        throw new ValidationError('body must be JSON');
      }
      const parsed = OpenCaseBody.safeParse(body);
      if (!parsed.success) throw new ValidationError(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      return c.json(OpenedSchema.parse(await openCase(serviceContext(c), c.req.valid('param').customerId, parsed.data)), 202);
    })
    .openapi(upload, async (c) => {
      const bytes = Buffer.from(await c.req.arrayBuffer());
      return c.json(DocumentSchema.parse(await uploadDocument(serviceContext(c), c.req.valid('param').customerId, c.req.valid('query'), bytes)), 201);
    })
    .openapi(submit, async (c) => c.json(CaseViewSchema.parse(await submitDocuments(serviceContext(c), c.req.valid('param').customerId)), 200))
    .openapi(decide, async (c) => c.json(CaseViewSchema.parse(await decideCase(serviceContext(c), c.req.valid('param').customerId, c.req.valid('json'))), 200))
    .openapi(revoke, async (c) => c.json(CaseViewSchema.parse(await revokeCase(serviceContext(c), c.req.valid('param').customerId, c.req.valid('json').reason)), 200))
    .openapi(content, async (c) => {
      const doc = await readDocument(serviceContext(c), c.req.valid('param').id);
      return c.body(new Uint8Array(doc.content), 200, {
        'content-type': doc.contentType,
        'content-disposition': `attachment; filename="${doc.filename.replace(/[^\w.-]/g, '_')}"`,
        'cache-control': 'no-store',
      }) as never;
    });
}
