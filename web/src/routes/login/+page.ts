import { redirect } from '@sveltejs/kit';
import type { PageLoad } from './$types';
import { session } from '$lib/auth/session.svelte';
import { safeNext } from '$lib/links';
import { fetchMe } from '$lib/services/auth-service';

/** Signed in already: go on to where the visitor was heading. */
export const load: PageLoad = async ({ fetch, url }) => {
  const next = safeNext(url.searchParams.get('next'));
  const me = await fetchMe(fetch).catch(() => null);
  if (me?.user) {
    session.set(me);
    redirect(307, next);
  }
  return { next };
};
