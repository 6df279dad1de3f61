import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { EmailDelivery, EmailRequest, MailActivities } from '@keelson/activities/mail/index';

/** Recording an email is a short Postgres write: retried until the database answers. */
const recordCalls = { startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumInterval: '30s' } } as const;
/**
 * One SMTP conversation. The start-to-close timeout is the activity's claim on the email
 * (`claimSeconds` in activities/mail): a worker that dies mid-send is noticed after it, and the
 * next attempt may send. An unreachable server is retried for about a day.
 */
export const deliverCalls: ActivityOptions = {
  startToCloseTimeout: '30s',
  // SmtpNotConfigured, EmailRejected and EmailFailed are thrown non-retryable.
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30m', maximumAttempts: 60 },
};

const record = proxyActivities<MailActivities>(recordCalls);
const deliver = proxyActivities<MailActivities>(deliverCalls);

/**
 * Sends one email exactly once per business key (tenant, kind, key), from any workflow: records
 * it (a repeat finds the first), then delivers it (a sent email is not sent again). Throws the
 * mail module's typed failures (`SmtpNotConfigured`, `EmailRejected`) for the caller to record.
 */
export async function sendEmail(request: EmailRequest, options: { deliver?: ActivityOptions } = {}): Promise<EmailDelivery> {
  const { emailId } = await record.queueEmail(request);
  const delivery = options.deliver ? proxyActivities<MailActivities>(options.deliver) : deliver;
  return delivery.deliverEmail({ tenantId: request.tenantId, emailId });
}
