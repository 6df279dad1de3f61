import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { addMember } from '../../services/members-service';
import { AddMemberBodySchema, MemberSchema, toMember } from './schema';

export function addMemberRoute() {
  return createRouter().openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['members'],
      summary: 'Add a person with a role, creating their account if the email is new',
      middleware: [requirePermission('member.manage')] as const,
      request: { body: { required: true, content: { 'application/json': { schema: AddMemberBodySchema } } } },
      responses: {
        201: { description: 'Added', content: { 'application/json': { schema: MemberSchema } } },
        400: { description: 'Malformed body' },
        401: { description: 'Not signed in' },
        403: { description: 'Missing member.manage or X-CSRF-Token, or granting owner without being one' },
        409: { description: 'Already a member' },
      },
    }),
    async (c) => {
      const member = await addMember(c.get('deps').db, c.get('principal'), c.get('meta'), c.req.valid('json'));
      return c.json(toMember(member), 201);
    },
  );
}
