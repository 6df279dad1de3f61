import type { LayoutLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { session } from '$lib/auth/session.svelte';
import { fetchMe } from '$lib/services/auth-service';

/** Everything in (app) needs a signed-in user: signed out, it goes to /login and back. */
export const load: LayoutLoad = async ({ fetch, url, untrack }) => {
  try {
    const me = await fetchMe(fetch);
    session.set(me);
    return { me };
  } catch (err) {
    // `untrack`: the URL only matters for coming back; it must not re-run this on every navigation.
    return untrack(() => failLoad(err, url));
  }
};
