import { ROLE_PERMISSIONS } from '@keelson/common/permissions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../../../test/platform';
import type { ServiceContext } from './context';
import { parseCursor, streamRun, type StreamEvent } from './run-stream';

/**
 * A run's stream long-polls Temporal for new history; the API's connection does not cancel a call
 * on abort (decision 0040), so the stream must stop waiting for it itself when its client goes.
 */
describe('the stream of a run whose client goes away', () => {
  let p: TestPlatform;
  let ctx: ServiceContext;
  let headers: Record<string, string>;

  beforeAll(async () => {
    p = await createTestPlatform();
    await p.startCoreWorker();
    const tenantId = (await p.createTenant()).id;
    headers = (await p.signIn({ tenantId, role: 'operator' })).headers;
    ctx = {
      deps: p.deps,
      principal: { tenantId, actor: 'user:stream-test', actorType: 'user', actorId: 'stream-test', userId: null, role: 'operator', permissions: ROLE_PERMISSIONS.operator, sessionId: null },
      meta: { ip: null, userAgent: null },
    };
  });
  afterAll(async () => {
    await p?.close();
  });

  it("ends as soon as it is aborted, not when Temporal's long poll of the history returns", { timeout: 60_000 }, async () => {
    const started = await p.request('/api/runs', { headers, body: { operation: 'system.noop', input: { sleepSeconds: 300 } } });
    expect(started.status, await started.clone().text()).toBe(201);
    const { workflowId } = (await started.json()) as { workflowId: string };
    try {
      const events: StreamEvent[] = [];
      const abort = new AbortController();
      const streaming = streamRun(ctx, workflowId, parseCursor(null), async (e) => void events.push(e), abort.signal);
      const timerStarted = () => events.some((e) => e.event === 'history' && JSON.stringify(e.data).includes('"TimerStarted"'));
      for (let waited = 0; !timerStarted(); waited += 50) {
        if (waited > 30_000) throw new Error(`no TimerStarted event streamed; got ${JSON.stringify(events)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // The stream is now waiting on a long poll that Temporal holds until the run changes (it
      // sleeps for minutes) or the poll expires (20 s).
      await new Promise((r) => setTimeout(r, 500));
      const aborted = performance.now();
      abort.abort();
      await streaming;
      expect(performance.now() - aborted).toBeLessThan(2_000);
      expect(events.some((e) => e.event === 'end')).toBe(false);
    } finally {
      await p.temporal.workflow.getHandle(workflowId).terminate('test over').catch(() => undefined);
    }
  });
});
