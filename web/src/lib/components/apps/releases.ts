/**
 * What the app pages read from releases: which are still deploying, which can be rolled back to,
 * how long each took, how each status looks, and where an app's webhooks go.
 *
 * Pure and free of Svelte and SvelteKit imports, so Node tests run it.
 */
import type { App, DeliveryOutcome, Release, ReleaseStatus } from '../../api/types';

/** Badge tones, as `$lib/ui/badge.svelte` names them. */
export type Tone = 'neutral' | 'info' | 'success' | 'warning' | 'danger';

/**
 * Whether the release's deploy is over. `finishedAt` is stamped by every ending (done, failed,
 * rolled back, canceled, superseded); a live release still being watched has none yet.
 */
export const isFinished = (r: Pick<Release, 'finishedAt'>): boolean => r.finishedAt !== null;

/** Whether any release is still on its way: the page then refreshes often. */
export const anyInProgress = (releases: ReadonlyArray<Pick<Release, 'finishedAt'>>): boolean => releases.some((r) => !isFinished(r));

/** The deploy run exists once the release started; a queued or superseded one never ran. */
export const hasRun = (r: Pick<Release, 'startedAt'>): boolean => r.startedAt !== null;

/**
 * The releases the API accepts as a rollback target: one that served and held (live or retired,
 * with an image to reuse), and is not the one serving now. Mirrors `rollbackApp` in the API,
 * which checks again.
 */
export function canRollBackTo(r: Pick<Release, 'id' | 'status' | 'image'>, currentReleaseId: string | null): boolean {
  return (r.status === 'retired' || r.status === 'live') && r.image !== null && r.id !== currentReleaseId;
}

/** From the start of its run to its end, or to `now` while it runs; null before it started. */
export function releaseDuration(r: Pick<Release, 'startedAt' | 'finishedAt'>, now: number): number | null {
  if (!r.startedAt) return null;
  const start = Date.parse(r.startedAt);
  const end = r.finishedAt ? Date.parse(r.finishedAt) : now;
  return Number.isNaN(start) || Number.isNaN(end) ? null : Math.max(0, end - start);
}

/** The first 7 characters, as git shows them; an em dash for none (a branch head not yet resolved). */
export const shortSha = (sha: string | null | undefined): string => (sha ? sha.slice(0, 7) : '—');

/** The first line of a commit message: the rest is rarely useful in a table. */
export const commitTitle = (message: string | null | undefined): string => (message ?? '').split('\n', 1)[0]!.trim();

/** The phases of a deploy in the order they run, as `timings` names them. */
export const PHASES = [
  ['fetchMs', 'fetch'],
  ['buildMs', 'build'],
  ['startMs', 'start'],
  ['healthMs', 'health'],
  ['approvalMs', 'approval'],
  ['switchMs', 'switch'],
  ['watchMs', 'watch'],
] as const;

/** The phases the release went through, with their milliseconds, in order. */
export function phaseTimings(timings: Release['timings']): Array<{ phase: string; ms: number }> {
  const t = timings as Record<string, number | undefined>;
  return PHASES.filter(([key]) => typeof t[key] === 'number').map(([key, phase]) => ({ phase, ms: t[key]! }));
}

export const RELEASE_LOOK: Record<ReleaseStatus, { tone: Tone; label: string }> = {
  queued: { tone: 'neutral', label: 'Queued' },
  superseded: { tone: 'neutral', label: 'Superseded' },
  building: { tone: 'info', label: 'Building' },
  starting: { tone: 'info', label: 'Starting' },
  checking: { tone: 'info', label: 'Checking health' },
  awaiting_approval: { tone: 'warning', label: 'Awaiting approval' },
  live: { tone: 'success', label: 'Live' },
  retired: { tone: 'neutral', label: 'Retired' },
  failed: { tone: 'danger', label: 'Failed' },
  rolled_back: { tone: 'danger', label: 'Rolled back' },
  canceled: { tone: 'warning', label: 'Canceled' },
};

/** How a release's status shows; a live release still being watched says so. */
export function releaseLook(r: Pick<Release, 'status' | 'finishedAt'>): { tone: Tone; label: string; pulse: boolean } {
  const look = RELEASE_LOOK[r.status] ?? { tone: 'neutral' as const, label: r.status };
  const running = !isFinished(r);
  return { ...look, label: r.status === 'live' && running ? 'Live · watching' : look.label, pulse: running };
}

export const DELIVERY_LOOK: Record<DeliveryOutcome, Tone> = {
  queued: 'success',
  ignored: 'neutral',
  duplicate: 'neutral',
  rejected: 'danger',
  malformed: 'warning',
  failed: 'danger',
};

/** Where GitHub and GitLab send an app's push events; `origin` is the one the browser uses. */
export function webhookUrls(origin: string, appId: string): { github: string; gitlab: string } {
  const base = `${origin.replace(/\/+$/, '')}/api/webhooks`;
  const id = encodeURIComponent(appId);
  return { github: `${base}/github/${id}`, gitlab: `${base}/gitlab/${id}` };
}

/** The release serving now, if the list has it. */
export const currentRelease = (app: Pick<App, 'currentReleaseId'>, releases: readonly Release[]): Release | undefined =>
  app.currentReleaseId ? releases.find((r) => r.id === app.currentReleaseId) : undefined;

/** `30 s`, `5 min`, `1 h`, `2 h 30 min`: settings given in seconds. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return seconds % 60 ? `${Math.floor(seconds / 60)} min ${seconds % 60} s` : `${seconds / 60} min`;
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds % 3600) / 60);
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** How often an app's page refreshes: often while a release deploys, else now and then (webhook pushes). */
export const REFRESH_ACTIVE_MS = 2000;
export const REFRESH_IDLE_MS = 15_000;

/**
 * Whether a refresh is due at `now`. The page's poll ticks every `REFRESH_ACTIVE_MS`; with every
 * release finished, only every `REFRESH_IDLE_MS` does a tick fetch anything. `lastAt` null
 * (an action was just taken) is always due.
 */
export function refreshDue(releases: ReadonlyArray<Pick<Release, 'finishedAt'>>, lastAt: number | null, now: number): boolean {
  return lastAt === null || anyInProgress(releases) || now - lastAt >= REFRESH_IDLE_MS;
}
