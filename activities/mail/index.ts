import { ApplicationFailure } from '@temporalio/activity';
import type { KeyRing } from '@keelson/common/codec';
import type { Database } from '@keelson/db';
import { files, outboundEmailAttachments, outboundEmails } from '@keelson/db/schema';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { enqueueEmail } from './outbox';
import { isPermanentSmtpError, loadSmtpConnection, sendPooled, smtpErrorMessage } from './smtp';
import type { EmailDelivery, EmailRequest, MailFailureType, QueuedEmail } from './types';

export type { EmailAttachment, EmailDelivery, EmailRequest, MailFailureType, QueuedEmail } from './types';
export { enqueueEmail, storeFile } from './outbox';
export { deterministicMessageId } from './message-id';
export { closeSmtpPools } from './smtp';

export interface MailDeps {
  db: Database;
  keys: KeyRing;
  /**
   * How long one attempt holds an email it is sending. An attempt that dies mid-send (a killed
   * worker) leaves its claim; the next attempt waits it out. Keep it at least the activity's
   * start-to-close timeout.
   */
  claimSeconds?: number;
}

const fail = (type: MailFailureType, message: string, nonRetryable: boolean) => ApplicationFailure.create({ type, message, nonRetryable });

/**
 * The shared mail activities every domain uses: `queueEmail` records an email under its business
 * key, `deliverEmail` sends a recorded email over the organization's SMTP server with its fixed
 * Message-ID and marks it sent. Both are safe to repeat: a sent email is never sent again.
 */
export function createMailActivities({ db, keys, claimSeconds = 30 }: MailDeps) {
  return {
    /** Records the email (or finds the one with the same business key). */
    async queueEmail(request: EmailRequest): Promise<QueuedEmail> {
      return enqueueEmail(db, request);
    },

    /**
     * Sends a recorded email once. An email already sent answers `alreadySent` without touching
     * SMTP; a permanent refusal marks it failed and throws a non-retryable failure.
     */
    async deliverEmail({ tenantId, emailId }: { tenantId: string; emailId: string }): Promise<EmailDelivery> {
      const [email] = await db
        .select()
        .from(outboundEmails)
        .where(and(eq(outboundEmails.tenantId, tenantId), eq(outboundEmails.id, emailId)));
      if (!email) throw fail('EmailFailed', `email ${emailId} is not recorded`, true);
      if (email.status === 'sent') return { emailId, messageId: email.messageId, status: 'sent', alreadySent: true, smtpResponse: email.smtpResponse };
      if (email.status === 'failed') throw fail('EmailFailed', `email ${email.kind}/${email.key} failed: ${email.lastError ?? 'unknown error'}`, true);

      const connection = await loadSmtpConnection(db, keys, tenantId);
      if (!connection) {
        await markFailed(emailId, 'the organization has no SMTP settings');
        throw fail('SmtpNotConfigured', 'the organization has no SMTP settings (Settings → Email)', true);
      }

      // Claim it: one attempt at a time, and a crashed attempt's claim runs out.
      const [claimed] = await db
        .update(outboundEmails)
        .set({ status: 'sending', attempts: sql`${outboundEmails.attempts} + 1`, claimedUntil: sql`now() + make_interval(secs => ${claimSeconds})` })
        .where(
          and(
            eq(outboundEmails.id, emailId),
            sql`(${outboundEmails.status} = 'queued' or (${outboundEmails.status} = 'sending' and ${outboundEmails.claimedUntil} < now()))`,
          ),
        )
        .returning({ attempts: outboundEmails.attempts });
      if (!claimed) {
        const [now] = await db.select({ status: outboundEmails.status, smtpResponse: outboundEmails.smtpResponse }).from(outboundEmails).where(eq(outboundEmails.id, emailId));
        if (now?.status === 'sent') return { emailId, messageId: email.messageId, status: 'sent', alreadySent: true, smtpResponse: now.smtpResponse };
        throw fail('SmtpUnavailable', `email ${email.kind}/${email.key} is being sent by another attempt; trying again later`, false);
      }

      const attachments = await db
        .select({ filename: outboundEmailAttachments.filename, contentType: files.contentType, content: files.content })
        .from(outboundEmailAttachments)
        .innerJoin(files, eq(files.id, outboundEmailAttachments.fileId))
        .where(eq(outboundEmailAttachments.emailId, emailId))
        .orderBy(asc(outboundEmailAttachments.position));

      let response: string;
      try {
        const info = await sendPooled(connection, {
          messageId: email.messageId,
          from: connection.fromName ? { name: connection.fromName, address: connection.fromAddress } : connection.fromAddress,
          replyTo: connection.replyTo ?? undefined,
          to: email.to,
          cc: email.cc,
          bcc: email.bcc,
          subject: email.subject,
          text: email.text,
          html: email.html ?? undefined,
          attachments: attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
          headers: { 'X-Keelson-Email': email.kind },
        });
        response = info.response;
      } catch (err) {
        const reason = smtpErrorMessage(err);
        if (isPermanentSmtpError(err)) {
          await markFailed(emailId, reason);
          throw fail('EmailRejected', `the SMTP server refused ${email.kind}/${email.key}: ${reason}`, true);
        }
        // Let the next attempt in at once rather than after the claim runs out.
        await db.update(outboundEmails).set({ status: 'queued', claimedUntil: null, lastError: reason }).where(and(eq(outboundEmails.id, emailId), eq(outboundEmails.status, 'sending')));
        throw fail('SmtpUnavailable', `sending ${email.kind}/${email.key} failed (attempt ${claimed.attempts}): ${reason}`, false);
      }
      await db
        .update(outboundEmails)
        .set({ status: 'sent', sentAt: sql`now()`, smtpResponse: response, claimedUntil: null, lastError: null })
        .where(eq(outboundEmails.id, emailId));
      return { emailId, messageId: email.messageId, status: 'sent', alreadySent: false, smtpResponse: response };
    },
  };

  async function markFailed(emailId: string, reason: string) {
    await db
      .update(outboundEmails)
      .set({ status: 'failed', lastError: reason, claimedUntil: null })
      .where(and(eq(outboundEmails.id, emailId), inArray(outboundEmails.status, ['queued', 'sending'])));
  }
}

export type MailActivities = ReturnType<typeof createMailActivities>;
