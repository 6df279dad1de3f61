import { createRouter } from '../../router';
import { addMemberRoute } from './add';
import { memberInvitationsRoutes } from './invitations';
import { listMembersRoute } from './list';
import { removeMemberRoute } from './remove';
import { updateMemberRoute } from './update';

/** /api/members: who belongs to the organization. app.ts puts `authenticate` in front of all of it. */
export function membersRoutes() {
  return createRouter()
    .route('/', listMembersRoute())
    .route('/', addMemberRoute())
    .route('/', memberInvitationsRoutes())
    .route('/', updateMemberRoute())
    .route('/', removeMemberRoute());
}

export type MembersRoutes = ReturnType<typeof membersRoutes>;
