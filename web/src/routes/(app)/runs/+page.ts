import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { fetchOperations, fetchRuns, runFiltersFromUrl } from '$lib/services/runs-service';

export const load: PageLoad = async ({ fetch, url }) => {
  const filters = runFiltersFromUrl(url.searchParams);
  try {
    const [runs, operations] = await Promise.all([
      fetchRuns(fetch, filters),
      // The catalog only fills the filter and the start dialog: the list works without it.
      fetchOperations(fetch).catch(() => ({ items: [] })),
    ]);
    return { filters, runs, operations: operations.items };
  } catch (err) {
    failLoad(err, url);
  }
};
