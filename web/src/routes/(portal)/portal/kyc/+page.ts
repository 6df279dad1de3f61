import type { PageLoad } from './$types';
import { error } from '@sveltejs/kit';
import { failLoad } from '$lib/api/load-error';
import { fetchKycCase } from '$lib/services/kyc-service';

export const load: PageLoad = async ({ fetch, url, parent }) => {
  const { me } = await parent();
  if (!me.customerId) error(404, 'no customer');
  try {
    return { detail: await fetchKycCase(fetch, me.customerId) };
  } catch (err) {
    failLoad(err, url);
  }
};
