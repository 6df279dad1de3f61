import { error, redirect } from '@sveltejs/kit';
import { loginHref } from '$lib/links';
import { ApiError } from './request';

/**
 * For load functions: a 401 goes to the login page (and back here afterwards); any other
 * ApiError becomes SvelteKit's error page with the API's message and request id.
 */
export function failLoad(err: unknown, url: URL): never {
  if (err instanceof ApiError) {
    if (err.status === 401) redirect(307, loginHref(url.pathname + url.search));
    const status = err.status >= 400 && err.status <= 599 ? err.status : 503;
    error(status, { message: err.message, requestId: err.requestId, code: err.code });
  }
  throw err;
}
