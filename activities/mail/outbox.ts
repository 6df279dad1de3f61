import type { Executor } from '@keelson/db';
import { files, outboundEmailAttachments, outboundEmails, smtpSettings } from '@keelson/db/schema';
import { and, eq } from 'drizzle-orm';
import { createHash } from 'node:crypto';
import { deterministicMessageId } from './message-id';
import type { EmailRequest, QueuedEmail } from './types';

/** Stores a document in `files` and returns its id (written once; a new version is a new file). */
export async function storeFile(
  tx: Executor,
  file: { tenantId: string; filename: string; contentType: string; content: Buffer },
): Promise<{ fileId: string; sha256: string; size: number }> {
  const sha256 = createHash('sha256').update(file.content).digest('hex');
  const [row] = await tx
    .insert(files)
    .values({ tenantId: file.tenantId, filename: file.filename, contentType: file.contentType, size: file.content.length, sha256, content: file.content })
    .returning({ id: files.id });
  return { fileId: row!.id, sha256, size: file.content.length };
}

const clean = (addresses: string[] | undefined) => [...new Set((addresses ?? []).map((a) => a.trim()).filter(Boolean))];

/**
 * Records an email under its business key, with its attachments, in one transaction; nothing
 * is sent here (`deliverEmail` sends). When the key is already recorded, the first email is
 * returned unchanged: content, recipients and Message-ID are fixed at first record.
 */
export async function enqueueEmail(db: Executor, request: EmailRequest): Promise<QueuedEmail> {
  const to = clean(request.to);
  if (to.length === 0) throw new Error(`email ${request.kind}/${request.key} has no recipient`);
  const existing = await findEmail(db, request);
  if (existing) return { ...existing, created: false };

  return db.transaction(async (tx) => {
    const [settings] = await tx.select({ fromAddress: smtpSettings.fromAddress }).from(smtpSettings).where(eq(smtpSettings.tenantId, request.tenantId));
    const messageId = deterministicMessageId(request.tenantId, request.kind, request.key, settings?.fromAddress ?? null);
    const [row] = await tx
      .insert(outboundEmails)
      .values({
        tenantId: request.tenantId,
        kind: request.kind,
        key: request.key,
        messageId,
        to,
        cc: clean(request.cc),
        bcc: clean(request.bcc),
        subject: request.subject,
        text: request.text,
        html: request.html ?? null,
        resource: request.resource ?? null,
      })
      .onConflictDoNothing({ target: [outboundEmails.tenantId, outboundEmails.kind, outboundEmails.key] })
      .returning({ id: outboundEmails.id, messageId: outboundEmails.messageId });
    if (!row) {
      // Recorded by a concurrent call between our look-up and insert: theirs stands.
      const theirs = await findEmail(tx, request);
      return { ...theirs!, created: false };
    }
    let position = 0;
    for (const a of request.attachments ?? []) {
      let fileId: string;
      let filename: string;
      if ('fileId' in a) {
        const [f] = await tx
          .select({ id: files.id, filename: files.filename })
          .from(files)
          .where(and(eq(files.tenantId, request.tenantId), eq(files.id, a.fileId)));
        if (!f) throw new Error(`attachment file ${a.fileId} does not exist in this organization`);
        fileId = f.id;
        filename = a.filename ?? f.filename;
      } else {
        ({ fileId } = await storeFile(tx, { tenantId: request.tenantId, filename: a.filename, contentType: a.contentType, content: Buffer.from(a.contentBase64, 'base64') }));
        filename = a.filename;
      }
      await tx.insert(outboundEmailAttachments).values({ emailId: row.id, position: position++, fileId, filename });
    }
    return { emailId: row.id, messageId: row.messageId, created: true };
  });
}

async function findEmail(db: Executor, r: Pick<EmailRequest, 'tenantId' | 'kind' | 'key'>) {
  const [row] = await db
    .select({ emailId: outboundEmails.id, messageId: outboundEmails.messageId })
    .from(outboundEmails)
    .where(and(eq(outboundEmails.tenantId, r.tenantId), eq(outboundEmails.kind, r.kind), eq(outboundEmails.key, r.key)));
  return row;
}
