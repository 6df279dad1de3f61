import { redirect } from '@sveltejs/kit';
import type { PageLoad } from './$types';

/** The billing area opens on its first section. */
export const load: PageLoad = () => {
  redirect(307, '/billing/customers');
};
