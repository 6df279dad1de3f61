import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { request } from '$lib/api/request';
import type { Container } from '$lib/api/types';

export const load: PageLoad = async ({ fetch, params, url }) => {
  try {
    return { container: await request<Container>(fetch, `/containers/${encodeURIComponent(params.id)}`) };
  } catch (err) {
    failLoad(err, url);
  }
};
