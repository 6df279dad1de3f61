/** The app's own URLs, built in one place. */

/** `/runs/container/abc/create`: each segment of the workflow id encoded, the slashes kept. */
export function runHref(workflowId: string): string {
  return `/runs/${workflowId.split('/').map(encodeURIComponent).join('/')}`;
}

/** `/login?next=…` for coming back after signing in. */
export function loginHref(next: string): string {
  return next && next !== '/' && next !== '/login' ? `/login?next=${encodeURIComponent(next)}` : '/login';
}

/** Only paths of this app: an open redirect through `?next=` would be a phishing aid. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/runs';
  return next;
}
