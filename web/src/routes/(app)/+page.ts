import { redirect } from '@sveltejs/kit';
import type { PageLoad } from './$types';

import { session } from '$lib/auth/session.svelte';

/** The overview is what a person opens first; without monitoring.read, billing (for the billing role) or the runs. */
export const load: PageLoad = async ({ parent }) => {
  await parent();
  redirect(307, session.can('monitoring.read') ? '/overview' : session.can('billing.read') ? '/billing' : '/runs');
};
