import { z } from '@hono/zod-openapi';
import { ROLES } from '@keelson/common/permissions';

const OrganizationRef = z.object({ id: z.uuid(), slug: z.string(), name: z.string() });

/** An invitation as the invited person sees it: who invites them, to do what. */
export const MyInvitationSchema = z
  .object({ id: z.uuid(), organization: OrganizationRef, role: z.enum(ROLES), createdAt: z.iso.datetime(), expiresAt: z.iso.datetime() })
  .openapi('MyInvitation');

export const MyInvitationListSchema = z.object({ items: z.array(MyInvitationSchema) }).openapi('MyInvitationList');

export const AnsweredInvitationSchema = z.object({ organization: OrganizationRef, role: z.enum(ROLES) }).openapi('AnsweredInvitation');

export const InvitationIdParams = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) });

export function toMyInvitation(row: { id: string; role: (typeof ROLES)[number]; organization: { id: string; slug: string; name: string }; createdAt: Date; expiresAt: Date }) {
  return MyInvitationSchema.parse({ ...row, createdAt: row.createdAt.toISOString(), expiresAt: row.expiresAt.toISOString() });
}
