import { z } from '@hono/zod-openapi';
import { ROLES } from '@keelson/common/permissions';

export const MemberSchema = z
  .object({
    userId: z.uuid(),
    email: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    joinedAt: z.iso.datetime(),
  })
  .openapi('Member');

export const MemberListSchema = z.object({ items: z.array(MemberSchema) }).openapi('MemberList');

export const AddMemberBodySchema = z
  .object({
    email: z.email().max(320),
    name: z.string().trim().min(1).max(200),
    role: z.enum(ROLES),
    password: z
      .string()
      .min(8)
      .max(1024)
      .openapi({ description: 'Initial password if the email has no account yet (one is made with it); otherwise ignored.' }),
  })
  .openapi('AddMemberBody');

export const InvitationSchema = z
  .object({
    id: z.uuid(),
    email: z.string().openapi({ description: 'As given when inviting.' }),
    role: z.enum(ROLES),
    status: z.literal('pending'),
    createdAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
  })
  .openapi('Invitation');

export const InvitationListSchema = z.object({ items: z.array(InvitationSchema) }).openapi('InvitationList');

export const InvitationParamsSchema = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) });

/** The organization's view of an invitation: what it asked, never anything about the account. */
export function toInvitation(row: { id: string; email: string; role: (typeof ROLES)[number]; createdAt: Date; expiresAt: Date }): z.infer<typeof InvitationSchema> {
  return InvitationSchema.parse({ id: row.id, email: row.email, role: row.role, status: 'pending', createdAt: row.createdAt.toISOString(), expiresAt: row.expiresAt.toISOString() });
}

export const ChangeRoleBodySchema = z.object({ role: z.enum(ROLES) }).openapi('ChangeRoleBody');

export const MemberParamsSchema = z.object({
  userId: z.uuid().openapi({ param: { name: 'userId', in: 'path' } }),
});

interface MemberRow {
  userId: string;
  email: string;
  name: string;
  role: (typeof ROLES)[number];
  joinedAt: Date;
}

/** The public view of a member: picked field by field, then checked, so no column slips out. */
export function toMember(row: MemberRow): z.infer<typeof MemberSchema> {
  return MemberSchema.parse({
    userId: row.userId,
    email: row.email,
    name: row.name,
    role: row.role,
    joinedAt: row.joinedAt.toISOString(),
  });
}
