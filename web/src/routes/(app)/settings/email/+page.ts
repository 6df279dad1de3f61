import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchSmtpSettings } from '$lib/services/mail-service';

export const load: PageLoad = async ({ fetch, url }) => {
  try {
    return { settings: (await fetchSmtpSettings(fetch)).settings };
  } catch (err) {
    failLoad(err, url);
  }
};
