import { z } from '@hono/zod-openapi';
import { ACTOR_TYPES } from '@keelson/db/schema';

export const MAX_PAGE = 200;

const text = z.string().trim().min(1).max(200);

export const AuditQuerySchema = z
  .object({
    actor: text.optional().openapi({ description: '`user:<id>`, `apikey:<id>`, or a bare actor id.' }),
    action: text.optional().openapi({ example: 'apikey.create' }),
    resourceType: text.optional().openapi({ example: 'api_key' }),
    resourceId: text.optional(),
    from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Entries at or after this time.' }),
    to: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Entries before this time.' }),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
    cursor: z
      .string()
      .regex(/^\d{1,15}$/, 'must be the nextCursor of a previous page')
      .optional()
      .openapi({ description: 'nextCursor from the previous page.' }),
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) < Date.parse(q.to), { message: 'must be after from', path: ['to'] });

export const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    actorType: z.enum(ACTOR_TYPES),
    actorId: z.string().nullable(),
    action: z.string(),
    resourceType: z.string(),
    resourceId: z.string().nullable(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    createdAt: z.iso.datetime(),
  })
  .openapi('AuditEntry');

export const AuditPageSchema = z
  .object({
    items: z.array(AuditEntrySchema),
    nextCursor: z.string().nullable().openapi({ description: 'Pass as `cursor` for the next page; null on the last page.' }),
  })
  .openapi('AuditPage');

interface AuditRow {
  id: number;
  actorType: (typeof ACTOR_TYPES)[number];
  actorId: string | null;
  action: string;
  resourceType: string;
  resourceId: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
  createdAt: Date;
}

export function toAuditEntry(row: AuditRow): z.infer<typeof AuditEntrySchema> {
  return AuditEntrySchema.parse({
    id: row.id,
    actorType: row.actorType,
    actorId: row.actorId,
    action: row.action,
    resourceType: row.resourceType,
    resourceId: row.resourceId,
    ip: row.ip,
    userAgent: row.userAgent,
    details: row.details,
    createdAt: row.createdAt.toISOString(),
  });
}
