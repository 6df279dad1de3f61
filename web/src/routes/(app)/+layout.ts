import { redirect } from '@sveltejs/kit';
import type { Me } from '$lib/api/types';
import type { LayoutLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { session } from '$lib/auth/session.svelte';
import { fetchMe } from '$lib/services/auth-service';

/** Everything in (app) needs a signed-in user: signed out, it goes to /login and back. */
export const load: LayoutLoad = async ({ fetch, url, untrack }) => {
  let me: Me;
  try {
    me = await fetchMe(fetch);
  } catch (err) {
    // `untrack`: the URL only matters for coming back; it must not re-run this on every navigation.
    return untrack(() => failLoad(err, url));
  }
  session.set(me);
  // Customers have a portal of their own; the operator pages are not theirs.
  if (me.role === 'customer') redirect(307, '/portal');
  return { me };
};
