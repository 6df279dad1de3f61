import type { PageLoad } from './$types';
import { failLoad } from '$lib/api/load-error';
import { ApiError } from '$lib/api/request';
import { auditFiltersFromUrl, fetchAuditPage } from '$lib/services/audit-service';
import { fetchMembers } from '$lib/services/members-service';

export const load: PageLoad = async ({ fetch, url }) => {
  const filters = auditFiltersFromUrl(url.searchParams);
  try {
    const [page, members] = await Promise.all([
      fetchAuditPage(fetch, filters),
      // Only to show people by email: the log reads fine without it.
      fetchMembers(fetch).catch(() => ({ items: [] })),
    ]);
    return { filters, page, members: members.items, filterError: null };
  } catch (err) {
    // A filter the API refuses (`to` before `from`) stays on the page, to be fixed there.
    if (err instanceof ApiError && err.status === 400) return { filters, page: { items: [], nextCursor: null }, members: [], filterError: err };
    failLoad(err, url);
  }
};
