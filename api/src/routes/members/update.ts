import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { changeMemberRole } from '../../services/members-service';
import { ChangeRoleBodySchema, MemberParamsSchema, MemberSchema, toMember } from './schema';

export function updateMemberRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'patch',
      path: '/{userId}',
      tags: ['members'],
      summary: "Change a member's role",
      middleware: [requirePermission('member.manage')] as const,
      request: {
        params: MemberParamsSchema,
        body: { required: true, content: { 'application/json': { schema: ChangeRoleBodySchema } } },
      },
      responses: {
        200: { description: 'Updated', content: { 'application/json': { schema: MemberSchema } } },
        400: { description: 'Malformed body or id' },
        401: { description: 'Not signed in' },
        403: { description: 'Missing member.manage or X-CSRF-Token, or touching the owner role without being an owner' },
        404: { description: 'Not a member of this organization' },
        409: { description: 'Would leave the organization without an owner' },
      },
    }),
    async (c) => {
      const { userId } = c.req.valid('param');
      const member = await changeMemberRole(c.get('deps').db, c.get('principal'), c.get('meta'), userId, c.req.valid('json').role);
      return c.json(toMember(member), 200);
    },
  );
}
