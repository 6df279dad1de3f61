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
      .openapi({ description: 'Initial password for a new user; ignored when the email already has an account.' }),
  })
  .openapi('AddMemberBody');

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
