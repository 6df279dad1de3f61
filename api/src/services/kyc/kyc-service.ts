import { DEFAULT_KYC_TIMELINE, KYC_TERMINAL, type KycCaseInput, type KycCaseView, type KycDecision, type KycRevoke, type KycTimeline } from '@keelson/activities/kyc/types';
import { open, seal, type DataKeys } from '@keelson/common/codec';
import { KYC_OPERATION, WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { dataKeysFor, writeAudit } from '@keelson/db';
import { customerContacts, customers, customerUsers, kycCaseEvents, kycCases, kycDocuments, users, type KycDocumentKind, type KycState } from '@keelson/db/schema';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { and, asc, desc, eq, isNull, sql } from 'drizzle-orm';
import { fileTypeFromBuffer } from 'file-type';
import { createHash, randomUUID } from 'node:crypto';
import type { AppDeps } from '../../deps';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';
import { customerResource, customerScope } from '../customer-scope';

/** Largest identity document accepted (a phone photo or a scanned PDF). */
export const KYC_MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;
/** What an identity document may be, judged from its content. */
export const KYC_DOCUMENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/heic', 'application/pdf'] as const;

const dataKeys = (ctx: ServiceContext): DataKeys => dataKeysFor(ctx.deps.db, ctx.deps.keys);
const documentAad = (tenantId: string, documentId: string) => Buffer.from(`keelson-kyc-document:${tenantId}:${documentId}`);

export function kycTimeline(deps: AppDeps): KycTimeline {
  return { ...DEFAULT_KYC_TIMELINE, ...deps.config.kycTimeline };
}

/** The customer as the caller may see it: another organization's, or not the customer user's own, is a 404. */
async function visibleCustomer(ctx: ServiceContext, customerId: string) {
  const scope = customerScope(ctx);
  if (scope && scope !== customerId) throw new NotFoundError('customer');
  const [row] = await ctx.deps.db
    .select({ id: customers.id, name: customers.name })
    .from(customers)
    .where(and(eq(customers.tenantId, ctx.principal.tenantId), eq(customers.id, customerId)));
  if (!row) throw new NotFoundError('customer');
  return row;
}

async function latestCase(ctx: ServiceContext, customerId: string) {
  const [row] = await ctx.deps.db
    .select()
    .from(kycCases)
    .where(and(eq(kycCases.tenantId, ctx.principal.tenantId), eq(kycCases.customerId, customerId)))
    .orderBy(desc(kycCases.createdAt))
    .limit(1);
  return row ?? null;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

function presentCase(row: typeof kycCases.$inferSelect, customerName: string) {
  return {
    id: row.id,
    customerId: row.customerId,
    customerName,
    workflowId: row.workflowId,
    state: row.state,
    highRisk: row.highRisk,
    approvals: row.approvals,
    reason: row.reason,
    decidedBy: row.decidedBy,
    decidedAt: iso(row.decidedAt),
    submittedAt: iso(row.submittedAt),
    reviewDueAt: iso(row.reviewDueAt),
    escalatedAt: iso(row.escalatedAt),
    expiresAt: iso(row.expiresAt),
    validUntil: iso(row.validUntil),
    reverificationRequestedAt: iso(row.reverificationRequestedAt),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function presentDocument(d: typeof kycDocuments.$inferSelect) {
  return {
    id: d.id,
    caseId: d.caseId,
    kind: d.kind,
    filename: d.filename,
    contentType: d.contentType,
    size: d.size,
    sha256: d.sha256,
    expiresOn: iso(d.expiresOn),
    uploadedBy: d.uploadedBy,
    createdAt: d.createdAt.toISOString(),
    deletedAt: iso(d.deletedAt),
  };
}

/**
 * Opens the customer's case, or joins the running one (`kyc/<customer>`): a second start changes
 * nothing. A case that ended while its run finishes retention is reopened as a new case; one
 * rejected for good only by staff.
 */
export async function openCase(ctx: ServiceContext, customerId: string, opts: { highRisk?: boolean }) {
  await visibleCustomer(ctx, customerId);
  const staff = customerScope(ctx) === null;
  const current = await latestCase(ctx, customerId);
  if (current?.state === 'rejected_final' && !staff) throw new ConflictError('the identity verification was rejected for good; contact support');
  const input: KycCaseInput = {
    tenantId: ctx.principal.tenantId,
    customerId,
    highRisk: staff ? opts.highRisk === true : false,
    actor: ctx.principal.actor,
    timeline: kycTimeline(ctx.deps),
  };
  const handle = await ctx.deps.temporal.workflow.signalWithStart(WorkflowType.kycCase, {
    taskQueue: ctx.deps.config.coreTaskQueue,
    workflowId: WorkflowId.kycCase(customerId),
    args: [input],
    signal: 'reopen',
    signalArgs: [{ by: ctx.principal.actor, staff }],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: runSearchAttributes({ tenantId: ctx.principal.tenantId, operation: KYC_OPERATION, resources: [customerResource(customerId)], actor: ctx.principal.actor }),
  });
  await ctx.deps.db.transaction((tx) => writeAudit(tx, { ...auditActor(ctx), action: 'kyc.open', resourceType: 'customer', resourceId: customerId }));
  return { workflowId: handle.workflowId };
}

/** The reviewer queue: cases in a given state (in review by default), oldest submission first. */
export async function listCases(ctx: ServiceContext, filter: { state?: string }) {
  const scope = customerScope(ctx);
  const rows = await ctx.deps.db
    .select({ c: kycCases, name: customers.name })
    .from(kycCases)
    .innerJoin(customers, eq(customers.id, kycCases.customerId))
    .where(
      and(
        eq(kycCases.tenantId, ctx.principal.tenantId),
        scope ? eq(kycCases.customerId, scope) : undefined,
        filter.state ? eq(kycCases.state, filter.state as KycState) : undefined,
        // each customer's current case only
        sql`not exists (select 1 from kyc_cases newer where newer.customer_id = ${kycCases.customerId} and newer.created_at > ${kycCases.createdAt})`,
      ),
    )
    .orderBy(sql`${kycCases.submittedAt} asc nulls last`, asc(kycCases.createdAt))
    .limit(500);
  return rows.map((r) => presentCase(r.c, r.name));
}

/** The customer's current case with its documents and history (null case: none opened yet). */
export async function getCase(ctx: ServiceContext, customerId: string) {
  const customer = await visibleCustomer(ctx, customerId);
  const row = await latestCase(ctx, customerId);
  const docs = await ctx.deps.db
    .select()
    .from(kycDocuments)
    .where(and(eq(kycDocuments.tenantId, ctx.principal.tenantId), eq(kycDocuments.customerId, customerId)))
    .orderBy(desc(kycDocuments.createdAt))
    .limit(200);
  const events = row
    ? await ctx.deps.db.select().from(kycCaseEvents).where(eq(kycCaseEvents.caseId, row.id)).orderBy(asc(kycCaseEvents.version))
    : [];
  return {
    customerId,
    customerName: customer.name,
    case: row ? presentCase(row, customer.name) : null,
    documents: docs.filter((d) => !row || d.caseId === null || d.caseId === row.id).map(presentDocument),
    history: events.map((e) => ({ version: e.version, state: e.state, event: e.event, actor: e.actor, detail: e.detail, at: e.at.toISOString() })),
  };
}

/**
 * Stores an identity document sealed with the organization's data key. Its type is what the
 * content is (file-type reads the magic bytes), never the name or header the upload claims.
 */
export async function uploadDocument(ctx: ServiceContext, customerId: string, meta: { kind: KycDocumentKind; filename: string; expiresOn?: string }, content: Buffer) {
  await visibleCustomer(ctx, customerId);
  if (content.length === 0) throw new ValidationError('the document is empty');
  if (content.length > KYC_MAX_DOCUMENT_BYTES) throw new ValidationError(`the document is larger than ${KYC_MAX_DOCUMENT_BYTES} bytes`);
  const detected = await fileTypeFromBuffer(content);
  if (!detected || !(KYC_DOCUMENT_TYPES as readonly string[]).includes(detected.mime)) {
    throw new ValidationError(`the document must be a JPEG, PNG, WebP or HEIC image or a PDF; its content is ${detected?.mime ?? 'not a recognised type'}`);
  }
  const expiresOn = meta.expiresOn ? new Date(meta.expiresOn) : null;
  const tenantId = ctx.principal.tenantId;
  const id = randomUUID();
  const key = await dataKeys(ctx).active(tenantId);
  const { sealed } = seal({ activeKeyId: 'data', keys: new Map([['data', key.key]]) }, content, documentAad(tenantId, id));
  const [row] = await ctx.deps.db.transaction(async (tx) => {
    const inserted = await tx
      .insert(kycDocuments)
      .values({
        id,
        tenantId,
        customerId,
        kind: meta.kind,
        filename: meta.filename,
        contentType: detected.mime,
        size: content.length,
        sha256: createHash('sha256').update(content).digest('hex'),
        expiresOn,
        keyVersion: key.version,
        contentSealed: sealed,
        uploadedBy: ctx.principal.actor,
      })
      .returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'kyc.document.upload', resourceType: 'customer', resourceId: customerId, details: { documentId: id, kind: meta.kind, contentType: detected.mime, size: content.length } });
    return inserted;
  });
  return presentDocument(row!);
}

/** A document's content for a reviewer (audited); deleted documents are gone for good (410 as 404). */
export async function readDocument(ctx: ServiceContext, documentId: string) {
  const tenantId = ctx.principal.tenantId;
  const [doc] = await ctx.deps.db.select().from(kycDocuments).where(and(eq(kycDocuments.tenantId, tenantId), eq(kycDocuments.id, documentId)));
  if (!doc) throw new NotFoundError('document');
  await visibleCustomer(ctx, doc.customerId);
  if (!doc.contentSealed || doc.keyVersion === null) throw new NotFoundError('document content (deleted by the retention rule)');
  const key = await dataKeys(ctx).get(tenantId, doc.keyVersion);
  if (!key) throw new NotFoundError('document key');
  const content = open({ activeKeyId: 'data', keys: new Map([['data', key]]) }, 'data', doc.contentSealed, documentAad(tenantId, doc.id));
  await ctx.deps.db.transaction((tx) => writeAudit(tx, { ...auditActor(ctx), action: 'kyc.document.view', resourceType: 'customer', resourceId: doc.customerId, details: { documentId } }));
  return { content, contentType: doc.contentType, filename: doc.filename };
}

function caseHandle(ctx: ServiceContext, customerId: string) {
  return ctx.deps.temporal.workflow.getHandle(WorkflowId.kycCase(customerId));
}

/** Turns a refused update into a 409 naming the rule, and a missing case into a 404. */
async function update(ctx: ServiceContext, customerId: string, name: string, arg: unknown): Promise<KycCaseView> {
  const row = await latestCase(ctx, customerId);
  if (!row || KYC_TERMINAL.includes(row.state)) throw new NotFoundError('open KYC case');
  try {
    return await caseHandle(ctx, customerId).executeUpdate<KycCaseView, [unknown]>(name, { args: [arg] });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new NotFoundError('open KYC case');
    if (err instanceof WorkflowUpdateFailedError) throw new ConflictError((err.cause as Error | undefined)?.message ?? err.message);
    throw err;
  }
}

/** Submits every uploaded document not yet submitted; the case goes to review. */
export async function submitDocuments(ctx: ServiceContext, customerId: string) {
  await visibleCustomer(ctx, customerId);
  const pending = await ctx.deps.db
    .select({ id: kycDocuments.id })
    .from(kycDocuments)
    .where(and(eq(kycDocuments.tenantId, ctx.principal.tenantId), eq(kycDocuments.customerId, customerId), isNull(kycDocuments.caseId), isNull(kycDocuments.deletedAt)));
  if (!pending.length) throw new ValidationError('upload at least one document before submitting');
  const view = await update(ctx, customerId, 'submit', { by: ctx.principal.actor, documentIds: pending.map((d) => d.id) });
  await ctx.deps.db.transaction((tx) => writeAudit(tx, { ...auditActor(ctx), action: 'kyc.submit', resourceType: 'customer', resourceId: customerId, details: { documents: pending.length } }));
  return view;
}

/** The customers the reviewer belongs to (as a customer user, or a contact with their email): they may not decide those. */
async function reviewerCustomers(ctx: ServiceContext): Promise<string[]> {
  const userId = ctx.principal.onBehalfOf ?? ctx.principal.userId;
  if (!userId) return [];
  const linked = await ctx.deps.db
    .select({ id: customerUsers.customerId })
    .from(customerUsers)
    .where(and(eq(customerUsers.tenantId, ctx.principal.tenantId), eq(customerUsers.userId, userId)));
  const contacts = await ctx.deps.db
    .select({ id: customerContacts.customerId })
    .from(customerContacts)
    .innerJoin(users, sql`lower(${users.email}) = lower(${customerContacts.email})`)
    .innerJoin(customers, eq(customers.id, customerContacts.customerId))
    .where(and(eq(users.id, userId), eq(customers.tenantId, ctx.principal.tenantId)));
  return [...new Set([...linked, ...contacts].map((r) => r.id))];
}

/** A reviewer's decision, answered synchronously by the case's workflow (its validator states what is refused). */
export async function decideCase(ctx: ServiceContext, customerId: string, body: { decision: 'approve' | 'reject'; reason?: string; final?: boolean }) {
  await visibleCustomer(ctx, customerId);
  const reviewerCustomerIds = await reviewerCustomers(ctx);
  if (reviewerCustomerIds.includes(customerId)) throw new ForbiddenError('a reviewer cannot decide the case of a customer they belong to');
  const decision: KycDecision = { decision: body.decision, by: ctx.principal.actor, reviewerCustomerIds, reason: body.reason ?? null, final: body.final === true };
  const view = await update(ctx, customerId, 'decide', decision);
  await ctx.deps.db.transaction((tx) =>
    writeAudit(tx, { ...auditActor(ctx), action: `kyc.${body.decision}`, resourceType: 'customer', resourceId: customerId, details: { reason: body.reason ?? null, final: body.final === true, state: view.state } }),
  );
  return view;
}

/**
 * Withdraws an approval: the case ends as revoked and the customer's services are held for `kyc`
 * until an approval lifts it (decision 0030). Refused like a decision: only an approved case, a
 * reason, never by a reviewer who belongs to the customer.
 */
export async function revokeCase(ctx: ServiceContext, customerId: string, reason: string) {
  await visibleCustomer(ctx, customerId);
  const reviewerCustomerIds = await reviewerCustomers(ctx);
  if (reviewerCustomerIds.includes(customerId)) throw new ForbiddenError('a reviewer cannot decide the case of a customer they belong to');
  const current = await latestCase(ctx, customerId);
  if (current && current.state !== 'approved') throw new ConflictError(`only an approved case can be revoked; this one is ${current.state}`);
  const revoke: KycRevoke = { by: ctx.principal.actor, reason, reviewerCustomerIds };
  const view = await update(ctx, customerId, 'revoke', revoke);
  await ctx.deps.db.transaction((tx) => writeAudit(tx, { ...auditActor(ctx), action: 'kyc.revoke', resourceType: 'customer', resourceId: customerId, details: { reason, state: view.state } }));
  return view;
}
