import type { Database } from '@keelson/db';
import { customerContacts, customers, kycCaseEvents, kycCases, kycDocuments, memberships, orders, users } from '@keelson/db/schema';
import { ApplicationFailure } from '@temporalio/activity';
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { KycRecord } from './types';

export type * from './types';

/** Roles whose members review KYC cases and receive escalations (they hold `kyc.review`). */
const REVIEWER_ROLES = ['owner', 'admin', 'billing'] as const;

const at = (ms: number | null) => (ms === null ? null : new Date(ms));

/** The Postgres side of KYC cases: the case row and history, documents, and who to email. */
export function createKycActivities({ db }: { db: Database }) {
  return {
    /**
     * Writes the case as the workflow sees it, with its event. A snapshot older than the row
     * (a slower concurrent write of the same run) changes nothing.
     */
    async recordKycCase(r: KycRecord): Promise<void> {
      const c = r.carried;
      const values = {
        id: c.caseId,
        tenantId: r.tenantId,
        customerId: r.customerId,
        workflowId: r.workflowId,
        state: c.state,
        version: c.version,
        highRisk: c.highRisk,
        approvals: c.approvals,
        reason: c.reason,
        decidedBy: c.decidedBy,
        decidedAt: at(c.decidedAt),
        submittedAt: at(c.submittedAt),
        reviewDueAt: at(c.reviewDueAt),
        escalatedAt: at(c.escalatedAt),
        expiresAt: at(r.expiresAt),
        validUntil: at(c.validUntil),
        reverificationRequestedAt: at(c.reverificationRequestedAt),
        providerDecisionAt: at(c.providerDecisionAt),
        updatedAt: new Date(),
      };
      await db.transaction(async (tx) => {
        const { id: _id, tenantId: _t, customerId: _c, workflowId: _w, ...changes } = values;
        await tx
          .insert(kycCases)
          .values(values)
          .onConflictDoUpdate({ target: kycCases.id, set: changes, setWhere: sql`${kycCases.version} < ${c.version}` });
        await tx
          .insert(kycCaseEvents)
          .values({ tenantId: r.tenantId, caseId: c.caseId, version: c.version, state: c.state, event: r.event.event, actor: r.event.actor, detail: r.event.detail, at: new Date(r.event.at) })
          .onConflictDoNothing();
      });
    },

    /** Who the case emails: the customer's contacts (billing contact first) and the organization's reviewers. */
    async kycRecipients({ tenantId, customerId }: { tenantId: string; customerId: string }): Promise<{ customerName: string; customer: string[]; reviewers: string[] }> {
      const [customer] = await db.select({ name: customers.name }).from(customers).where(and(eq(customers.tenantId, tenantId), eq(customers.id, customerId)));
      if (!customer) throw ApplicationFailure.create({ type: 'CustomerNotFound', message: `customer ${customerId} does not exist`, nonRetryable: true });
      const contacts = await db
        .select({ email: customerContacts.email, isBilling: customerContacts.isBilling })
        .from(customerContacts)
        .where(eq(customerContacts.customerId, customerId))
        .orderBy(asc(customerContacts.position));
      const billing = contacts.find((c) => c.isBilling) ?? contacts[0];
      const reviewers = await db
        .select({ email: users.email })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(and(eq(memberships.tenantId, tenantId), inArray(memberships.role, [...REVIEWER_ROLES])))
        .orderBy(asc(users.email));
      return { customerName: customer.name, customer: billing ? [billing.email] : [], reviewers: reviewers.map((r) => r.email) };
    },

    /** Binds uploaded documents to the case they are submitted with; answers their earliest expiry. */
    async attachKycDocuments({ tenantId, customerId, caseId, documentIds }: { tenantId: string; customerId: string; caseId: string; documentIds: string[] }) {
      const rows = await db
        .update(kycDocuments)
        .set({ caseId })
        .where(and(eq(kycDocuments.tenantId, tenantId), eq(kycDocuments.customerId, customerId), inArray(kycDocuments.id, documentIds), isNull(kycDocuments.deletedAt)))
        .returning({ id: kycDocuments.id, expiresOn: kycDocuments.expiresOn });
      const expiries = rows.map((r) => r.expiresOn?.getTime()).filter((t): t is number => t !== undefined);
      return { attached: rows.map((r) => r.id), expiresAt: expiries.length ? Math.min(...expiries) : null };
    },

    /** The customer's orders waiting for this case's decision (their runs are told of it). */
    async ordersAwaitingKyc({ tenantId, customerId }: { tenantId: string; customerId: string }): Promise<string[]> {
      const rows = await db
        .select({ id: orders.id })
        .from(orders)
        .where(and(eq(orders.tenantId, tenantId), eq(orders.customerId, customerId), eq(orders.status, 'awaiting_kyc')));
      return rows.map((r) => r.id);
    },

    /** The retention rule: drops the documents' content for good (the row stays, marked deleted). */
    async deleteKycDocuments({ tenantId, documentIds }: { tenantId: string; documentIds: string[] }): Promise<number> {
      if (!documentIds.length) return 0;
      const rows = await db
        .update(kycDocuments)
        .set({ contentSealed: null, keyVersion: null, deletedAt: new Date() })
        .where(and(eq(kycDocuments.tenantId, tenantId), inArray(kycDocuments.id, documentIds), isNull(kycDocuments.deletedAt)))
        .returning({ id: kycDocuments.id });
      return rows.length;
    },
  };
}

export type KycActivities = ReturnType<typeof createKycActivities>;
