import { request, type Fetch } from '$lib/api/request';
import type { App, AppInput, AppList, AppPatch, CreatedApp, QueuedDeploy, ReleaseList, WebhookDeliveryList, WebhookSecret } from '$lib/api/types';

const appPath = (id: string) => `/apps/${encodeURIComponent(id)}`;

export const fetchApps = (fetch: Fetch, signal?: AbortSignal) => request<AppList>(fetch, '/apps', { signal });

export const fetchApp = (fetch: Fetch, id: string, signal?: AbortSignal) => request<App>(fetch, appPath(id), { signal });

/** The answer's `webhookSecret` is shown this once; rotate it to see a new one. */
export const createApp = (fetch: Fetch, input: AppInput) => request<CreatedApp>(fetch, '/apps', { method: 'POST', body: input });

/**
 * Changes only the fields given; the next deploy uses them. `env` left out keeps the stored
 * variables; given, it replaces all of them.
 */
export const updateApp = (fetch: Fetch, id: string, changes: AppPatch) =>
  request<App>(fetch, appPath(id), { method: 'PATCH', body: changes });

/** The old secret stops verifying at once; the new one is in this answer only. */
export const rotateWebhookSecret = (fetch: Fetch, id: string) =>
  request<WebhookSecret>(fetch, `${appPath(id)}/webhook-secret`, { method: 'POST' });

/** The app's latest releases (up to 50), newest first. */
export const fetchReleases = (fetch: Fetch, id: string, signal?: AbortSignal) => request<ReleaseList>(fetch, `${appPath(id)}/releases`, { signal });

/** The app's latest webhook deliveries (up to 50), newest first, rejected ones included. */
export const fetchDeliveries = (fetch: Fetch, id: string, signal?: AbortSignal) =>
  request<WebhookDeliveryList>(fetch, `${appPath(id)}/deliveries`, { signal });

/** Queues a deploy of `commit` (a hex commit id), or of the branch head when left out. */
export const deployApp = (fetch: Fetch, id: string, commit?: string) =>
  request<QueuedDeploy>(fetch, `${appPath(id)}/deploys`, { method: 'POST', body: commit ? { commit } : {} });

/** Queues a deploy of an earlier release's image; a 409 says why a release cannot be used. */
export const rollbackApp = (fetch: Fetch, id: string, releaseId: string) =>
  request<QueuedDeploy>(fetch, `${appPath(id)}/rollback`, { method: 'POST', body: { releaseId } });
