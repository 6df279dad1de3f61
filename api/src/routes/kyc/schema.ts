import { z } from '@hono/zod-openapi';
import { KYC_DOCUMENT_KINDS, KYC_STATES } from '@keelson/db/schema';

export const CustomerParam = z.object({ customerId: z.uuid({ error: 'must be a customer id (UUID)' }).openapi({ param: { name: 'customerId', in: 'path' } }) });
export const DocumentParam = z.object({ id: z.uuid({ error: 'must be a document id (UUID)' }).openapi({ param: { name: 'id', in: 'path' } }) });

export const OpenCaseBody = z.object({ highRisk: z.boolean().optional().openapi({ description: 'Staff only: two different reviewers must approve' }) }).strict().openapi('KycOpenCase');

export const CaseListQuery = z.object({ state: z.enum(KYC_STATES).optional() });

export const UploadQuery = z.object({
  kind: z.enum(KYC_DOCUMENT_KINDS),
  filename: z.string().trim().min(1).max(200),
  expiresOn: z.iso.date({ error: 'must be a date (YYYY-MM-DD)' }).optional(),
});

export const DecisionBody = z
  .object({
    decision: z.enum(['approve', 'reject']),
    reason: z.string().max(2000).optional(),
    final: z.boolean().optional().openapi({ description: 'Reject for good: no resubmission' }),
  })
  .strict()
  .openapi('KycDecision');

export const RevokeBody = z.object({ reason: z.string().trim().min(1, 'revoking needs a reason').max(2000) }).strict().openapi('KycRevoke');

const when = z.string().nullable();
export const CaseSchema = z
  .object({
    id: z.string(),
    customerId: z.string(),
    customerName: z.string(),
    workflowId: z.string(),
    state: z.enum(KYC_STATES),
    highRisk: z.boolean(),
    approvals: z.array(z.object({ by: z.string(), at: z.string() })),
    reason: z.string().nullable(),
    decidedBy: z.string().nullable(),
    decidedAt: when,
    submittedAt: when,
    reviewDueAt: when,
    escalatedAt: when,
    expiresAt: when,
    validUntil: when,
    reverificationRequestedAt: when,
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('KycCase');
export const CaseListSchema = z.object({ items: z.array(CaseSchema) }).openapi('KycCaseList');

export const DocumentSchema = z
  .object({
    id: z.string(),
    caseId: z.string().nullable(),
    kind: z.enum(KYC_DOCUMENT_KINDS),
    filename: z.string(),
    contentType: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    expiresOn: when,
    uploadedBy: z.string(),
    createdAt: z.string(),
    deletedAt: when,
  })
  .openapi('KycDocument');

export const CaseDetailSchema = z
  .object({
    customerId: z.string(),
    customerName: z.string(),
    case: CaseSchema.nullable(),
    documents: z.array(DocumentSchema),
    history: z.array(z.object({ version: z.number().int(), state: z.enum(KYC_STATES), event: z.string(), actor: z.string().nullable(), detail: z.string().nullable(), at: z.string() })),
  })
  .openapi('KycCaseDetail');

export const CaseViewSchema = z
  .object({
    caseId: z.string(),
    customerId: z.string(),
    state: z.enum(KYC_STATES),
    version: z.number().int(),
    highRisk: z.boolean(),
    approvals: z.array(z.object({ by: z.string(), at: z.string() })),
    reason: z.string().nullable(),
  })
  .openapi('KycCaseView');

export const OpenedSchema = z.object({ workflowId: z.string() }).openapi('KycOpened');

export const ProviderBody = z
  .object({ provider: z.enum(['sumsub']), webhookSecret: z.string().min(16, 'use at least 16 characters').max(500) })
  .strict()
  .openapi('KycProviderSettings');
export const ProviderSchema = z.object({ provider: z.string(), webhookUrl: z.string() }).openapi('KycProvider');
