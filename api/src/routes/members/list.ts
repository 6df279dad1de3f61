import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { listMembers } from '../../services/members-service';
import { MemberListSchema, toMember } from './schema';

export function listMembersRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['members'],
      summary: 'People in the organization and their roles',
      middleware: [requirePermission('member.read')] as const,
      responses: {
        200: { description: 'Members, oldest first', content: { 'application/json': { schema: MemberListSchema } } },
        401: { description: 'Not signed in' },
        403: { description: 'Missing member.read' },
      },
    }),
    async (c) => {
      const rows = await listMembers(c.get('deps').db, c.get('principal').tenantId);
      return c.json({ items: rows.map(toMember) }, 200);
    },
  );
}
