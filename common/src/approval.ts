/**
 * How a run asks a person for a decision (deploy approval, KYC review, an apply that needs a
 * second pair of eyes). The workflow publishes the request in its memo under `APPROVAL_MEMO` —
 * so the API can show it from history alone, even while no worker is up — and waits for one of
 * two Workflow Updates, `approve` or `reject`, whose argument is an `ApprovalAnswer`. Every
 * request ends in the memo with its decision. Pure data: safe to import from workflow code.
 */
export const APPROVAL_MEMO = 'keelsonApproval';

export const ApprovalUpdate = { approve: 'approve', reject: 'reject' } as const;

export interface ApprovalAnswer {
  /** Who decided; the API fills it from the caller, never from the request body. */
  by: string;
  comment?: string;
}

export type ApprovalOutcome = 'approved' | 'rejected' | 'expired' | 'canceled';

export interface ApprovalDecision {
  outcome: ApprovalOutcome;
  by: string | null;
  comment: string | null;
  at: string;
}

export interface ApprovalRequest {
  /** Unique within the run: a run may ask more than once. */
  id: string;
  /** What the person is asked, in a sentence. Shown to everyone who can read the run: no secrets. */
  prompt: string;
  requestedAt: string;
  /** When an unanswered request expires, or null when it waits forever. */
  expiresAt: string | null;
  decision: ApprovalDecision | null;
}
