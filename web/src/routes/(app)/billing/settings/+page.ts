import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchBillingSettings, fetchTaxRules } from '$lib/services/billing-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    const [state, rules] = await Promise.all([fetchBillingSettings(fetch), fetchTaxRules(fetch)]);
    return { settings: state.settings, rules: rules.items };
  } catch (err) {
    failLoad(err, url);
  }
};
