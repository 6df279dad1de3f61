import { goto } from '$app/navigation';
import { page } from '$app/state';
import { ApiError, setCsrfToken } from '$lib/api/request';
import type { Me, Permission, SignedIn } from '$lib/api/types';
import { loginHref } from '$lib/links';

/**
 * Who is signed in, in the browser (the app renders client-side only, so this state is never
 * shared between users). Set from /api/auth/me by the app layout and from the login answer;
 * it also hands the CSRF token to the request helper.
 */
/** What the app needs to know of the caller: both the login answer and /api/auth/me have it. */
export type Caller = Pick<Me, 'user' | 'organization' | 'role' | 'permissions' | 'csrfToken'>;

class Session {
  me = $state<Caller | null>(null);

  set(me: Me | SignedIn | null) {
    this.me = me && { user: me.user, organization: me.organization, role: me.role, permissions: me.permissions, csrfToken: me.csrfToken ?? null };
    setCsrfToken(me?.csrfToken ?? null);
  }

  /** Whether the caller's role grants `permission` (the API checks again; this only hides buttons). */
  can(permission: Permission): boolean {
    return this.me?.permissions.includes(permission) ?? false;
  }
}

export const session = new Session();

/**
 * For errors from background refreshes and actions: a 401 means the session ended, so go to
 * the login page (and come back here afterwards). Returns whether it did.
 */
export function redirectIfSignedOut(err: unknown): boolean {
  if (!(err instanceof ApiError) || err.status !== 401) return false;
  session.set(null);
  void goto(loginHref(page.url.pathname + page.url.search));
  return true;
}
