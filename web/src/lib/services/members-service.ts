import { request, type Fetch } from '$lib/api/request';
import type { AddMemberInput, AnsweredInvitation, Invitation, InvitationList, Member, MemberList, MyInvitationList, Role } from '$lib/api/types';

export const fetchMembers = (fetch: Fetch, signal?: AbortSignal) => request<MemberList>(fetch, '/members', { signal });

export type { AddMemberInput };

/** Always an invitation: the person joins when they accept it (on sign-in). */
export const addMember = (fetch: Fetch, input: AddMemberInput) => request<Invitation>(fetch, '/members', { method: 'POST', body: input });

export const fetchInvitations = (fetch: Fetch, signal?: AbortSignal) => request<InvitationList>(fetch, '/members/invitations', { signal });
export const revokeInvitation = (fetch: Fetch, id: string) => request<void>(fetch, `/members/invitations/${encodeURIComponent(id)}`, { method: 'DELETE' });

/** The signed-in person's own invitations, from any organization. */
export const fetchMyInvitations = (fetch: Fetch, signal?: AbortSignal) => request<MyInvitationList>(fetch, '/invitations', { signal });
export const answerInvitation = (fetch: Fetch, id: string, answer: 'accept' | 'decline') =>
  request<AnsweredInvitation>(fetch, `/invitations/${encodeURIComponent(id)}/${answer}`, { method: 'POST' });

const memberPath = (userId: string) => `/members/${encodeURIComponent(userId)}`;

/** A 409 when it would leave the organization without an owner (its message says so). */
export const changeMemberRole = (fetch: Fetch, userId: string, role: Role) =>
  request<Member>(fetch, memberPath(userId), { method: 'PATCH', body: { role } });

/** Their sessions in this organization end; a 409 for the last owner. */
export const removeMember = (fetch: Fetch, userId: string) => request<void>(fetch, memberPath(userId), { method: 'DELETE' });
