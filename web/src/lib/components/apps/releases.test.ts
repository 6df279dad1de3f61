import { describe, expect, it } from 'vitest';
import type { Release, ReleaseStatus } from '../../api/types';
import {
  anyInProgress,
  canRollBackTo,
  commitTitle,
  currentRelease,
  formatSeconds,
  hasRun,
  phaseTimings,
  releaseDuration,
  refreshDue,
  REFRESH_IDLE_MS,
  releaseLook,
  RELEASE_LOOK,
  shortSha,
  webhookUrls,
} from './releases';

const release = (over: Partial<Release> = {}): Release => ({
  id: 'r1',
  appId: 'a1',
  trigger: 'manual',
  status: 'live',
  commitSha: '0123456789abcdef0123456789abcdef01234567',
  commitMessage: 'release: v1\n\nwith details',
  image: 'keelson-app/a1:0123456',
  sourceReleaseId: null,
  deliveryId: null,
  workflowId: 'deploy/a1/r1',
  upstream: '127.0.0.1:49153',
  actor: 'user:u1',
  error: null,
  timings: {},
  createdAt: '2025-11-12T10:00:00.000Z',
  startedAt: '2025-11-12T10:00:01.000Z',
  switchedAt: '2025-11-12T10:00:20.000Z',
  finishedAt: '2025-11-12T10:00:31.000Z',
  ...over,
});

describe('canRollBackTo', () => {
  it('offers releases that served and held, except the one serving now', () => {
    expect(canRollBackTo(release({ id: 'old', status: 'retired' }), 'cur')).toBe(true);
    // Live but not current: restored after a switch back, or the list is a moment behind.
    expect(canRollBackTo(release({ id: 'other', status: 'live' }), 'cur')).toBe(true);
    expect(canRollBackTo(release({ id: 'cur', status: 'live' }), 'cur')).toBe(false);
  });

  it('never offers one that did not serve, or has no image to reuse', () => {
    const others: ReleaseStatus[] = ['queued', 'superseded', 'building', 'starting', 'checking', 'awaiting_approval', 'failed', 'rolled_back', 'canceled'];
    for (const status of others) expect(canRollBackTo(release({ id: 'x', status }), 'cur'), status).toBe(false);
    expect(canRollBackTo(release({ id: 'x', status: 'retired', image: null }), 'cur')).toBe(false);
  });
});

describe('progress', () => {
  it('counts a release as in progress until its deploy stamped an end, a watched live one included', () => {
    expect(anyInProgress([release(), release({ status: 'retired' })])).toBe(false);
    expect(anyInProgress([release(), release({ status: 'live', finishedAt: null })])).toBe(true);
    expect(anyInProgress([release({ status: 'queued', startedAt: null, finishedAt: null })])).toBe(true);
    expect(anyInProgress([])).toBe(false);
  });

  it('has a run to link to once the release started', () => {
    expect(hasRun(release())).toBe(true);
    expect(hasRun(release({ status: 'superseded', startedAt: null }))).toBe(false);
  });
});

describe('refreshDue', () => {
  const done = [release()];
  it('refreshes on every tick while a release deploys, and now and then otherwise', () => {
    expect(refreshDue([release({ status: 'building', finishedAt: null }), ...done], 1000, 1500)).toBe(true);
    expect(refreshDue(done, 1000, 1000 + REFRESH_IDLE_MS - 1)).toBe(false);
    expect(refreshDue(done, 1000, 1000 + REFRESH_IDLE_MS)).toBe(true);
  });

  it('refreshes at once after an action, whatever the list says', () => {
    expect(refreshDue(done, null, 0)).toBe(true);
  });
});

describe('releaseDuration', () => {
  const now = Date.parse('2025-11-12T10:01:00.000Z');
  it('runs from start to end, or to now while it runs, and is nothing before it starts', () => {
    expect(releaseDuration(release(), now)).toBe(30_000);
    expect(releaseDuration(release({ finishedAt: null }), now)).toBe(59_000);
    expect(releaseDuration(release({ startedAt: null, finishedAt: null }), now)).toBeNull();
    expect(releaseDuration(release({ startedAt: 'not a date' }), now)).toBeNull();
  });
});

describe('how releases read', () => {
  it('shortens commits and keeps the first line of their message', () => {
    expect(shortSha('0123456789abcdef')).toBe('0123456');
    expect(shortSha(null)).toBe('—');
    expect(commitTitle('fix: thing\n\nbody')).toBe('fix: thing');
    expect(commitTitle(null)).toBe('');
  });

  it('has a look for every status, and says when a live release is still watched', () => {
    for (const status of Object.keys(RELEASE_LOOK) as ReleaseStatus[]) expect(releaseLook(release({ status })).label).not.toBe('');
    expect(releaseLook(release({ status: 'live', finishedAt: null }))).toEqual({ tone: 'success', label: 'Live · watching', pulse: true });
    expect(releaseLook(release({ status: 'live' }))).toEqual({ tone: 'success', label: 'Live', pulse: false });
    expect(releaseLook(release({ status: 'building', finishedAt: null })).pulse).toBe(true);
  });

  it('lists the phases it went through, in the order they run', () => {
    expect(phaseTimings({ watchMs: 2000, fetchMs: 40, buildMs: 900 })).toEqual([
      { phase: 'fetch', ms: 40 },
      { phase: 'build', ms: 900 },
      { phase: 'watch', ms: 2000 },
    ]);
  });

  it('finds the current release in the list', () => {
    const list = [release({ id: 'new', status: 'failed' }), release({ id: 'cur' })];
    expect(currentRelease({ currentReleaseId: 'cur' }, list)?.id).toBe('cur');
    expect(currentRelease({ currentReleaseId: null }, list)).toBeUndefined();
  });

  it('reads settings given in seconds', () => {
    expect([0, 45, 60, 90, 3600, 5400, 604_800].map(formatSeconds)).toEqual(['0 s', '45 s', '1 min', '1 min 30 s', '1 h', '1 h 30 min', '168 h']);
  });
});

describe('webhookUrls', () => {
  it('points both providers at the API under the browser’s origin', () => {
    expect(webhookUrls('https://keelson.example.com/', 'a1')).toEqual({
      github: 'https://keelson.example.com/api/webhooks/github/a1',
      gitlab: 'https://keelson.example.com/api/webhooks/gitlab/a1',
    });
  });
});
