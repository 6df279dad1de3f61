import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchKycQueue } from '$lib/services/kyc-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { cases: (await fetchKycQueue(fetch)).items };
  } catch (err) {
    failLoad(err, url);
  }
};
