import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { inviteMember } from '../../services/members-service';
import { AddMemberBodySchema, InvitationSchema, toInvitation } from './schema';

export function addMemberRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['members'],
      summary: 'Invite a person with a role; they join when they accept',
      description:
        'Always an invitation (202), whether or not the email has an account: an email without one gets an account with the given password, and the person accepts when they sign in. The answer says nothing about the account.',
      middleware: [requirePermission('member.manage')] as const,
      request: { body: { required: true, content: { 'application/json': { schema: AddMemberBodySchema } } } },
      responses: {
        202: { description: 'Invited', content: { 'application/json': { schema: InvitationSchema } } },
        400: { description: 'Malformed body' },
        401: { description: 'Not signed in' },
        403: { description: 'Missing member.manage or X-CSRF-Token, or granting owner without being one' },
        409: { description: 'Already a member, or already invited' },
      },
    }),
    async (c) => {
      const invitation = await inviteMember(c.get('deps').db, c.get('principal'), c.get('meta'), c.req.valid('json'));
      return c.json(toInvitation(invitation), 202);
    },
  );
}
