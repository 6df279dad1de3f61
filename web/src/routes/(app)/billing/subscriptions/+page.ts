import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import type { SubscriptionStatus } from '$lib/api/types';
import { fetchSubscriptions } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  const status = (url.searchParams.get('status') || undefined) as SubscriptionStatus | undefined;
  try {
    return { subscriptions: (await fetchSubscriptions(fetch, { status })).items, status };
  } catch (err) {
    failLoad(err, url);
  }
};
