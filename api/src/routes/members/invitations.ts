import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { listInvitations, revokeInvitation } from '../../services/invitations-service';
import { InvitationListSchema, InvitationParamsSchema, toInvitation } from './schema';

/** The organization's open invitations: list and withdraw. */
export function memberInvitationsRoutes() {
  return createRouter()
    .openapi(
      createRoute({
        method: 'get',
        path: '/invitations',
        tags: ['members'],
        summary: 'Open invitations of the organization',
        middleware: [requirePermission('member.read')] as const,
        responses: {
          200: { description: 'Oldest first', content: { 'application/json': { schema: InvitationListSchema } } },
          401: { description: 'Not signed in' },
          403: { description: 'Missing member.read' },
        },
      }),
      async (c) => c.json({ items: (await listInvitations(c.get('deps').db, c.get('principal').tenantId)).map(toInvitation) }, 200),
    )
    .openapi(
      createRoute({
        method: 'delete',
        path: '/invitations/{id}',
        tags: ['members'],
        summary: 'Withdraw an open invitation',
        middleware: [requirePermission('member.manage')] as const,
        request: { params: InvitationParamsSchema },
        responses: {
          204: { description: 'Withdrawn' },
          400: { description: 'The id is not a UUID' },
          401: { description: 'Not signed in' },
          403: { description: 'Missing member.manage or X-CSRF-Token' },
          404: { description: 'No open invitation with that id in this organization' },
        },
      }),
      async (c) => {
        await revokeInvitation(c.get('deps').db, c.get('principal'), c.get('meta'), c.req.valid('param').id);
        return c.body(null, 204);
      },
    );
}
