import { createHash } from 'node:crypto';

/**
 * The Message-ID of the email with this business key: the same for every attempt and every copy,
 * so a receiving system that sees it twice (a send whose acknowledgement was lost) can tell it
 * is the same message. The right side is the sending domain, as RFC 5322 recommends.
 */
export function deterministicMessageId(tenantId: string, kind: string, key: string, fromAddress: string | null): string {
  const digest = createHash('sha256').update(`${tenantId}\n${kind}\n${key}`).digest('hex').slice(0, 40);
  const domain = fromAddress?.split('@')[1]?.toLowerCase().replace(/[^a-z0-9.-]/g, '') || 'keelson.invalid';
  return `<${kind.replace(/[^A-Za-z0-9.-]/g, '-')}.${digest}@${domain}>`;
}
