import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchKycCase } from '$lib/services/kyc-service';

export const load: PageLoad = async ({ fetch, url, params, parent }) => {
  try {
    const { me } = await parent();
    return { detail: await fetchKycCase(fetch, params.customerId), canReview: me.permissions.includes('kyc.review') };
  } catch (err) {
    failLoad(err, url);
  }
};
