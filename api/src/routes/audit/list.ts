import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { listAuditEntries } from '../../services/audit-service';
import { AuditPageSchema, AuditQuerySchema, toAuditEntry } from './schema';

export function listAuditRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['audit'],
      summary: "The organization's audit log, newest first",
      middleware: [requirePermission('audit.read')] as const,
      request: { query: AuditQuerySchema },
      responses: {
        200: { description: 'One page of entries', content: { 'application/json': { schema: AuditPageSchema } } },
        400: { description: 'Malformed filter' },
        401: { description: 'Not signed in' },
        403: { description: 'Missing audit.read' },
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const page = await listAuditEntries(c.get('deps').db, c.get('principal').tenantId, {
        actor: q.actor,
        action: q.action,
        resourceType: q.resourceType,
        resourceId: q.resourceId,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        cursor: q.cursor ? Number(q.cursor) : undefined,
        limit: q.limit,
      });
      return c.json(
        AuditPageSchema.parse({
          items: page.items.map(toAuditEntry),
          nextCursor: page.nextCursor === null ? null : String(page.nextCursor),
        }),
        200,
      );
    },
  );
}
