import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchMembers } from '$lib/services/members-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { members: (await fetchMembers(fetch)).items };
  } catch (err) {
    failLoad(err, url);
  }
};
