import { bigint, boolean, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { customers } from './billing';
import { bytea } from './files';
import { tenants } from './tenancy';

const ts = (name: string) => timestamp(name, { withTimezone: true });

/**
 * A KYC case's states (docs/decisions/0023-kyc.md). `rejected` may resubmit (the case goes back to
 * waiting for documents); `rejected_final`, `expired` and `revoked` end the case.
 */
export const KYC_STATES = ['awaiting_documents', 'submitted', 'in_review', 'approved', 'rejected', 'rejected_final', 'expired', 'revoked'] as const;
export type KycState = (typeof KYC_STATES)[number];
export const kycStateEnum = pgEnum('kyc_state', KYC_STATES);

/** What an identity document is. */
export const KYC_DOCUMENT_KINDS = ['passport', 'id_card', 'driving_licence', 'proof_of_address', 'company_registration', 'other'] as const;
export type KycDocumentKind = (typeof KYC_DOCUMENT_KINDS)[number];
export const kycDocumentKindEnum = pgEnum('kyc_document_kind', KYC_DOCUMENT_KINDS);

/**
 * One KYC case of a customer, as its workflow (`kyc/<customer>`) last recorded it. The workflow is
 * the source of truth; this row is what lists, the portal and gating read. `version` only grows:
 * a write carrying an older version is ignored, so concurrent writes from one run never regress.
 */
export const kycCases = pgTable(
  'kyc_cases',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    workflowId: text('workflow_id').notNull(),
    state: kycStateEnum('state').notNull(),
    version: integer('version').notNull(),
    /** High-risk customers need two different approvers. */
    highRisk: boolean('high_risk').notNull().default(false),
    /** The reviewers who approved so far in this review (a high-risk case needs two). */
    approvals: jsonb('approvals').$type<Array<{ by: string; at: string }>>().notNull().default([]),
    /** Why the last rejection was made; shown to the customer. */
    reason: text('reason'),
    decidedBy: text('decided_by'),
    decidedAt: ts('decided_at'),
    submittedAt: ts('submitted_at'),
    /** When a case in review passes its SLA (the reviewer queue shows it). */
    reviewDueAt: ts('review_due_at'),
    escalatedAt: ts('escalated_at'),
    /** Waiting for documents: when the case expires unless they are submitted. */
    expiresAt: ts('expires_at'),
    /** Approved: until when (document expiry or the validity period); re-verification is asked ahead of it. */
    validUntil: ts('valid_until'),
    reverificationRequestedAt: ts('reverification_requested_at'),
    /** Provider time of the newest decision applied from an external provider. */
    providerDecisionAt: ts('provider_decision_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('kyc_cases_tenant_id_customer_id_idx').on(t.tenantId, t.customerId, t.createdAt),
    index('kyc_cases_tenant_id_state_idx').on(t.tenantId, t.state, t.submittedAt),
  ],
);

/** What happened to a case, in order (the case page's history). Keyed so a retried write adds nothing. */
export const kycCaseEvents = pgTable(
  'kyc_case_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    caseId: uuid('case_id')
      .notNull()
      .references(() => kycCases.id, { onDelete: 'cascade' }),
    /** The case version the event produced. */
    version: integer('version').notNull(),
    state: kycStateEnum('state').notNull(),
    event: text('event').notNull(),
    actor: text('actor'),
    detail: text('detail'),
    at: ts('at').notNull(),
  },
  (t) => [uniqueIndex('kyc_case_events_case_id_version_idx').on(t.caseId, t.version)],
);

/**
 * Identity documents. The content is sealed with the organization's data key (decision 0016) and
 * kept here, never in Temporal: the workflow holds document ids. Deleted (`content` dropped,
 * `deletedAt` set) by the retention rule after the decision.
 */
export const kycDocuments = pgTable(
  'kyc_documents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    customerId: uuid('customer_id')
      .notNull()
      .references(() => customers.id, { onDelete: 'cascade' }),
    /** The case it was submitted with; null while uploaded but not yet submitted. */
    caseId: uuid('case_id'),
    kind: kycDocumentKindEnum('kind').notNull(),
    filename: text('filename').notNull(),
    /** Detected from the content, not taken from the upload's name or header. */
    contentType: text('content_type').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    /** The document's own expiry (a passport's), when given: an approval is valid until then at most. */
    expiresOn: ts('expires_on'),
    keyVersion: integer('key_version'),
    contentSealed: bytea('content_sealed'),
    uploadedBy: text('uploaded_by').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    deletedAt: ts('deleted_at'),
  },
  (t) => [index('kyc_documents_tenant_id_customer_id_idx').on(t.tenantId, t.customerId), index('kyc_documents_case_id_idx').on(t.caseId)],
);

/** An organization's external KYC provider (Sumsub-style webhooks); the secret is sealed with the key ring. */
export const kycProviderSettings = pgTable('kyc_provider_settings', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  provider: text('provider').notNull(),
  webhookSecretSealed: text('webhook_secret_sealed').notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** Every provider webhook accepted, once: a repeated delivery hits the unique index and changes nothing. */
export const kycProviderEvents = pgTable(
  'kyc_provider_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    provider: text('provider').notNull(),
    eventId: text('event_id').notNull(),
    customerId: uuid('customer_id').notNull(),
    answer: text('answer').notNull(),
    rejectType: text('reject_type'),
    /** The provider's time of the decision, in ms (ordering is by it, never by arrival). */
    decidedAtMs: bigint('decided_at_ms', { mode: 'number' }).notNull(),
    receivedAt: ts('received_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('kyc_provider_events_tenant_id_provider_event_id_idx').on(t.tenantId, t.provider, t.eventId)],
);
