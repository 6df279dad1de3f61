import type { EmailDelivery } from '@keelson/activities/mail/index';
import type { RunContext } from '../run-context';
import { deliverCalls, sendEmail } from './send-email';

export interface SmtpTestInput extends RunContext {
  /** The business key of this test (one email per request). */
  requestId: string;
  to: string;
  organizationName: string;
}

/** An admin checks the organization's SMTP settings: one short email, tried a few times only. */
export async function smtpTest(input: SmtpTestInput): Promise<EmailDelivery> {
  return sendEmail(
    {
      tenantId: input.tenantId,
      kind: 'smtp.test',
      key: input.requestId,
      to: [input.to],
      subject: `Keelson test email for ${input.organizationName}`,
      text: `This is a test email from Keelson.\n\nIf you can read it, ${input.organizationName}'s SMTP settings work: invoices and notifications will be sent the same way.\n`,
    },
    { deliver: { ...deliverCalls, retry: { ...deliverCalls.retry, maximumAttempts: 2, initialInterval: '1s' } } },
  );
}
