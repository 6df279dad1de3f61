import { z } from '@hono/zod-openapi';
import { PERMISSIONS } from '@keelson/common/permissions';
import { setOf } from '../../schemas';

const MAX_EXPIRY_DAYS = 3650;

export const ApiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().openapi({ description: 'Public part of the key (`kls_<prefix>_…`), for recognizing it.' }),
    scopes: z.array(z.enum(PERMISSIONS)),
    expiresAt: z.iso.datetime().nullable(),
    lastUsedAt: z.iso.datetime().nullable().openapi({ description: 'Updated at most once a minute.' }),
    revokedAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
  })
  .openapi('ApiKey');

export const ApiKeyListSchema = z.object({ items: z.array(ApiKeySchema) }).openapi('ApiKeyList');

export const CreateApiKeyBodySchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    scopes: setOf(z.enum(PERMISSIONS), { min: 1, max: PERMISSIONS.length }).openapi({
      description: 'Permission strings (duplicates are dropped); the key acts with these and never more than its creator holds at the time of each request.',
    }),
    expiresAt: z.iso.datetime({ offset: true }).optional().openapi({ description: 'When the key stops working (ISO 8601).' }),
    expiresInDays: z.number().int().min(1).max(MAX_EXPIRY_DAYS).optional().openapi({ description: 'Alternative to expiresAt.' }),
  })
  .refine((b) => b.expiresAt === undefined || b.expiresInDays === undefined, {
    message: 'give expiresAt or expiresInDays, not both',
    path: ['expiresAt'],
  })
  .refine((b) => b.expiresAt === undefined || Date.parse(b.expiresAt) > Date.now(), {
    message: 'must be in the future',
    path: ['expiresAt'],
  })
  .openapi('CreateApiKeyBody');

export const CreatedApiKeySchema = z
  .object({
    key: z.string().openapi({ description: 'The full key. Shown only in this response; store it now.' }),
    apiKey: ApiKeySchema,
  })
  .openapi('CreatedApiKey');

export const ApiKeyParamsSchema = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }),
});

interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}

/** The public view of a key: picked field by field, then checked, so no column slips out. */
export function toApiKey(row: ApiKeyRow): z.infer<typeof ApiKeySchema> {
  return ApiKeySchema.parse({
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  });
}
