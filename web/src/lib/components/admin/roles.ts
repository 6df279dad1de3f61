import { ROLES, type Role } from '../../api/types';

/** What each role may do, in a few words (common/src/permissions.ts is the truth). */
export const ROLE_SUMMARY: Record<Role, string> = {
  owner: 'Everything, including granting and removing the owner role.',
  admin: 'Everything except the owner role.',
  operator: 'Starts and manages runs, containers and blueprints; reads nodes and API keys. No members or audit log.',
  billing: 'Reads runs only.',
  viewer: 'Reads runs, containers, blueprints, nodes and members.',
  customer: 'Signs in; no access to the operator views.',
};

/** The roles someone may grant: only owners grant owner (the API refuses others). */
export function grantableRoles(myRole: string | null | undefined): Role[] {
  return ROLES.filter((r) => r !== 'owner' || myRole === 'owner');
}
