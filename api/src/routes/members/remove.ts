import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { removeMember } from '../../services/members-service';
import { MemberParamsSchema } from './schema';

export function removeMemberRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'delete',
      path: '/{userId}',
      tags: ['members'],
      summary: 'Remove a member; their sessions in this organization end',
      middleware: [requirePermission('member.manage')] as const,
      request: { params: MemberParamsSchema },
      responses: {
        204: { description: 'Removed' },
        400: { description: 'The id is not a UUID' },
        401: { description: 'Not signed in' },
        403: { description: 'Missing member.manage or X-CSRF-Token, or removing an owner without being one' },
        404: { description: 'Not a member of this organization' },
        409: { description: 'The last owner' },
      },
    }),
    async (c) => {
      await removeMember(c.get('deps').db, c.get('principal'), c.get('meta'), c.req.valid('param').userId);
      return c.body(null, 204);
    },
  );
}
