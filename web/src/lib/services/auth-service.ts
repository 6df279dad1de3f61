import { request, type Fetch } from '$lib/api/request';
import type { LoginBody, Me, SignedIn } from '$lib/api/types';

/**
 * `acceptInvitations`: invitations the person accepts as they sign in (a 403 `invitation_pending`
 * lists them in `details.invitations` when the account belongs to no organization yet).
 */
export const signIn = (fetch: Fetch, credentials: LoginBody) =>
  request<SignedIn>(fetch, '/auth/login', { method: 'POST', body: credentials });

/** The second sign-in step when the account has two-factor authentication on. */
export const verifyTotp = (fetch: Fetch, code: string) => request<SignedIn>(fetch, '/auth/totp/verify', { method: 'POST', body: { code } });

/** The caller; an ApiError with status 401 when signed out. */
export const fetchMe = (fetch: Fetch) => request<Me>(fetch, '/auth/me');

export const signOut = (fetch: Fetch) => request<void>(fetch, '/auth/logout', { method: 'POST' });
