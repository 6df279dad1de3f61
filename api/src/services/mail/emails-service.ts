import { outboundEmailAttachments, outboundEmails } from '@keelson/db/schema';
import { and, desc, eq, inArray, lt } from 'drizzle-orm';

import type { ServiceContext } from '../context';

type Row = typeof outboundEmails.$inferSelect;

/** An email as staff see it: who, what, whether it went out. Never its body. */
export function presentEmail(r: Row, attachments: string[]) {
  return {
    id: r.id,
    kind: r.kind,
    key: r.key,
    messageId: r.messageId,
    to: r.to,
    cc: r.cc,
    subject: r.subject,
    resource: r.resource,
    status: r.status,
    attempts: r.attempts,
    lastError: r.lastError,
    attachments,
    createdAt: r.createdAt.toISOString(),
    sentAt: r.sentAt?.toISOString() ?? null,
  };
}

export interface EmailFilter {
  resource?: string;
  kind?: string;
  /** Emails created before this one (the previous page's last id's createdAt). */
  before?: string;
  limit: number;
}

/** The organization's emails, newest first. */
export async function listEmails(ctx: ServiceContext, filter: EmailFilter) {
  const rows = await ctx.deps.db
    .select()
    .from(outboundEmails)
    .where(
      and(
        eq(outboundEmails.tenantId, ctx.principal.tenantId),
        filter.resource ? eq(outboundEmails.resource, filter.resource) : undefined,
        filter.kind ? eq(outboundEmails.kind, filter.kind) : undefined,
        filter.before ? lt(outboundEmails.createdAt, new Date(filter.before)) : undefined,
      ),
    )
    .orderBy(desc(outboundEmails.createdAt))
    .limit(filter.limit);
  const names = new Map<string, string[]>();
  if (rows.length) {
    const atts = await ctx.deps.db
      .select({ emailId: outboundEmailAttachments.emailId, filename: outboundEmailAttachments.filename })
      .from(outboundEmailAttachments)
      .where(inArray(outboundEmailAttachments.emailId, rows.map((r) => r.id)))
      .orderBy(outboundEmailAttachments.position);
    for (const a of atts) names.set(a.emailId, [...(names.get(a.emailId) ?? []), a.filename]);
  }
  return rows.map((r) => presentEmail(r, names.get(r.id) ?? []));
}
