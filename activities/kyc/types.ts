/**
 * Shapes shared by the KYC case workflow, its activities and the API. Pure types and data:
 * workflow code imports them freely.
 */
export type KycState = 'awaiting_documents' | 'submitted' | 'in_review' | 'approved' | 'rejected' | 'rejected_final' | 'expired' | 'revoked';

/** States a case ends in: its workflow only finishes retention afterwards. */
export const KYC_TERMINAL: readonly KycState[] = ['rejected_final', 'expired', 'revoked'];

/**
 * Every duration of a case, in milliseconds, so tests run months in seconds. Defaults in
 * `DEFAULT_KYC_TIMELINE`.
 */
export interface KycTimeline {
  /** Reminders to the customer while documents are missing, counted from when the case started waiting. */
  remindersMs: number[];
  /** A case waiting for documents this long expires. */
  documentsDueMs: number;
  /** A case in review this long is escalated to the reviewers (once per review). */
  reviewSlaMs: number;
  /** An approval is valid this long at most (less when a document expires sooner). */
  validForMs: number;
  /** Re-verification is asked for this long before an approval runs out. */
  reverifyAheadMs: number;
  /** Documents are deleted this long after the decision on them. */
  retentionMs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const DEFAULT_KYC_TIMELINE: KycTimeline = {
  remindersMs: [24 * HOUR, 72 * HOUR, 7 * DAY],
  documentsDueMs: 14 * DAY,
  reviewSlaMs: 48 * HOUR,
  validForMs: 365 * DAY,
  reverifyAheadMs: 30 * DAY,
  retentionMs: 30 * DAY,
};

export interface KycCaseInput {
  tenantId: string;
  customerId: string;
  highRisk: boolean;
  actor: string;
  timeline: KycTimeline;
  /** Set by continue-as-new: the case so far. */
  carried?: KycCarried;
}

/** A decision of an external provider (Sumsub-style), in the provider's time. */
export interface ProviderDecision {
  provider: string;
  eventId: string;
  answer: 'GREEN' | 'RED';
  rejectType: 'RETRY' | 'FINAL' | null;
  decidedAtMs: number;
  comment: string | null;
}

export interface KycCarried {
  caseId: string;
  version: number;
  state: KycState;
  /** When the case last began waiting for documents (reminders and expiry count from it). */
  waitingSince: number;
  /** Waiting rounds so far (a rejection that may resubmit starts a new one): part of reminder keys. */
  round: number;
  remindersSent: number;
  highRisk: boolean;
  approvals: Array<{ by: string; at: string }>;
  reason: string | null;
  decidedBy: string | null;
  decidedAt: number | null;
  submittedAt: number | null;
  reviewDueAt: number | null;
  escalatedAt: number | null;
  validUntil: number | null;
  reverificationRequestedAt: number | null;
  providerDecisionAt: number | null;
  /** Documents of the submission in review. */
  documents: string[];
  /** The earliest expiry among them (an approval is valid until then at most). */
  documentsExpireAt: number | null;
  /** Documents to delete at a time (the retention rule after each decision). */
  deletions: Array<{ documentIds: string[]; at: number }>;
}

/** What the API shows of a case (the workflow's `kycState` query and every update's answer). */
export interface KycCaseView {
  caseId: string;
  customerId: string;
  state: KycState;
  version: number;
  highRisk: boolean;
  approvals: Array<{ by: string; at: string }>;
  reason: string | null;
}

export interface KycSubmit {
  by: string;
  documentIds: string[];
}

export interface KycDecision {
  decision: 'approve' | 'reject';
  by: string;
  /** Customers the reviewer belongs to (linked as a customer user or a contact): they may not decide those. */
  reviewerCustomerIds: string[];
  reason?: string | null;
  /** Reject for good: the case ends and cannot be resubmitted. */
  final?: boolean;
}

export interface KycRevoke {
  by: string;
  reason: string;
  /** Customers the reviewer belongs to: they may not revoke those (as for decisions). */
  reviewerCustomerIds?: string[];
}

/** A snapshot the workflow records in `kyc_cases`, with the event that produced it. */
export interface KycRecord {
  tenantId: string;
  customerId: string;
  workflowId: string;
  carried: KycCarried;
  expiresAt: number | null;
  event: { event: string; actor: string | null; detail: string | null; at: number };
}
