import { request, type Fetch } from '$lib/api/request';
import type { AddMemberInput, Member, MemberList, Role } from '$lib/api/types';

export const fetchMembers = (fetch: Fetch, signal?: AbortSignal) => request<MemberList>(fetch, '/members', { signal });

export type { AddMemberInput };

/** `password` is the initial password of a new account; ignored when the email already has one. */
export const addMember = (fetch: Fetch, input: AddMemberInput) => request<Member>(fetch, '/members', { method: 'POST', body: input });

const memberPath = (userId: string) => `/members/${encodeURIComponent(userId)}`;

/** A 409 when it would leave the organization without an owner (its message says so). */
export const changeMemberRole = (fetch: Fetch, userId: string, role: Role) =>
  request<Member>(fetch, memberPath(userId), { method: 'PATCH', body: { role } });

/** Their sessions in this organization end; a 409 for the last owner. */
export const removeMember = (fetch: Fetch, userId: string) => request<void>(fetch, memberPath(userId), { method: 'DELETE' });
