import { redirect } from '@sveltejs/kit';
import type { Me } from '$lib/api/types';
import type { LayoutLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { session } from '$lib/auth/session.svelte';
import { fetchMe } from '$lib/services/auth-service';

/** The customer portal: signed-in customer users only; staff go to the operator pages. */
export const load: LayoutLoad = async ({ fetch, url, untrack }) => {
  let me: Me;
  try {
    me = await fetchMe(fetch);
  } catch (err) {
    return untrack(() => failLoad(err, url));
  }
  session.set(me);
  if (me.role !== 'customer') redirect(307, '/');
  return { me };
};
