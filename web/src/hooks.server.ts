import type { Handle, ServerInit } from '@sveltejs/kit';
import { proxyToApi } from '$lib/server/api-proxy';
import { loadWebEnv, type WebEnv } from '$lib/server/env';

let env: WebEnv;

/** Fails the start, naming the setting, when the configuration is wrong. */
export const init: ServerInit = () => {
  env = loadWebEnv();
};

/** /api/* goes to the API (same origin for the browser); everything else is the app. */
export const handle: Handle = async ({ event, resolve }) => {
  const { pathname } = event.url;
  if (pathname === '/api' || pathname.startsWith('/api/')) {
    let clientAddress: string | undefined;
    try {
      clientAddress = event.getClientAddress();
    } catch {
      clientAddress = undefined; // not every adapter knows it
    }
    return proxyToApi(event.request, { apiUrl: env.API_URL, clientAddress });
  }
  return resolve(event);
};
