import { createRoute } from '@hono/zod-openapi';
import { createRouter } from '../../router';
import { answerInvitation, invitationsFor, invitee } from '../../services/invitations-service';
import { AnsweredInvitationSchema, InvitationIdParams, MyInvitationListSchema, toMyInvitation } from './schema';

const answer = (verb: 'accept' | 'decline') =>
  createRoute({
    method: 'post',
    path: `/{id}/${verb}`,
    tags: ['invitations'],
    summary: verb === 'accept' ? 'Accept an invitation: become a member of that organization' : 'Decline an invitation',
    request: { params: InvitationIdParams },
    responses: {
      200: { description: verb === 'accept' ? 'Joined' : 'Declined', content: { 'application/json': { schema: AnsweredInvitationSchema } } },
      400: { description: 'The id is not a UUID' },
      401: { description: 'Not signed in' },
      403: { description: 'Called with an API key, or without X-CSRF-Token' },
      404: { description: 'No open invitation with that id for this account' },
    },
  });

/**
 * /api/invitations: the signed-in person's own invitations, from any organization (app.ts puts
 * `authenticate` in front). Only invitations addressed to the caller's account are visible.
 */
export function invitationsRoutes() {
  return createRouter()
    .openapi(
      createRoute({
        method: 'get',
        path: '/',
        tags: ['invitations'],
        summary: 'Open invitations addressed to the signed-in person',
        responses: {
          200: { description: 'Oldest first', content: { 'application/json': { schema: MyInvitationListSchema } } },
          401: { description: 'Not signed in' },
          403: { description: 'Called with an API key' },
        },
      }),
      async (c) => {
        const { db } = c.get('deps');
        const user = await invitee(db, c.get('principal'));
        return c.json({ items: (await invitationsFor(db, user.id)).map(toMyInvitation) }, 200);
      },
    )
    .openapi(answer('accept'), async (c) => {
      const { db } = c.get('deps');
      const user = await invitee(db, c.get('principal'));
      const answered = await db.transaction((tx) => answerInvitation(tx, user, c.req.valid('param').id, 'accept', c.get('meta')));
      return c.json(answered, 200);
    })
    .openapi(answer('decline'), async (c) => {
      const { db } = c.get('deps');
      const user = await invitee(db, c.get('principal'));
      const answered = await db.transaction((tx) => answerInvitation(tx, user, c.req.valid('param').id, 'decline', c.get('meta')));
      return c.json(answered, 200);
    });
}
