/**
 * The shapes any domain passes to the mail module. Pure types: workflows import them freely.
 */

/** A file already stored in `files` (a rendered invoice PDF), attached under `filename`. */
export interface StoredAttachment {
  fileId: string;
  /** The name the recipient sees; the stored file's own name when left out. */
  filename?: string;
}

/** Small content passed inline (base64); it is stored as a file when the email is recorded. */
export interface InlineAttachment {
  filename: string;
  contentType: string;
  contentBase64: string;
}

export type EmailAttachment = StoredAttachment | InlineAttachment;

/**
 * One email, identified by its business key: (tenant, kind, key) is sent at most once by
 * construction. Asking again with the same key returns the first email, whatever else differs.
 */
export interface EmailRequest {
  tenantId: string;
  /** What the email is about, by domain: `invoice`, `credit_note`, `smtp.test`, `dunning.reminder`… */
  kind: string;
  /** The business key within the kind: an invoice id, `<invoice>/reminder-1`… */
  key: string;
  to: string[];
  cc?: string[];
  bcc?: string[];
  subject: string;
  text: string;
  html?: string;
  attachments?: EmailAttachment[];
  /** The resource the email is about (`invoice:<id>`), so its page can list what was sent. */
  resource?: string;
}

export interface QueuedEmail {
  emailId: string;
  messageId: string;
  /** False when an email with this business key was already recorded (this call changed nothing). */
  created: boolean;
}

export interface EmailDelivery {
  emailId: string;
  messageId: string;
  status: 'sent';
  /** True when an earlier attempt had already sent it: nothing went out this time. */
  alreadySent: boolean;
  smtpResponse: string | null;
}

/** Failure types `deliverEmail` throws (as ApplicationFailure types). */
export type MailFailureType =
  /** The organization has no SMTP settings. Not retried. */
  | 'SmtpNotConfigured'
  /** The server refused the message or every recipient for good (5xx). Not retried. */
  | 'EmailRejected'
  /** The email was recorded as failed by an earlier attempt. */
  | 'EmailFailed'
  /** Login refused, server unreachable, a 4xx: retried with backoff. */
  | 'SmtpUnavailable';
