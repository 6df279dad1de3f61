import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from './platform';
import { startPrivateTemporal, type PrivateTemporal } from './private-temporal';
import { readRunStream, waitForRun, type SseEvent } from './runs';
import { until } from './worker-process';

/**
 * Temporal's dev server (a private one, history on disk) is restarted while the API, the worker
 * and a client's open SSE stream of a run stay up: /api/health says degraded and then ok, the run
 * resumes and completes, and the stream carries on without a gap or a repeated event.
 */
describe('Temporal restarted mid-run', () => {
  let temporal: PrivateTemporal;
  let p: TestPlatform;
  let operator: SignedIn;

  beforeAll(async () => {
    temporal = await startPrivateTemporal();
    p = await createTestPlatform({ temporalAddress: temporal.address });
    await until('Temporal ready', async () => (await p.request('/api/health')).status === 200, 60_000);
    await p.startCoreWorker();
    operator = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'operator' });
  });

  afterAll(async () => {
    await p?.close();
    await temporal?.remove();
  });

  it('resumes the run, and the open stream goes on without gap or duplicate', { timeout: 180_000 }, async () => {
    const started = await p.request('/api/runs', {
      headers: operator.headers,
      body: { operation: 'system.noop', input: { echo: ['before the restart'], sleepSeconds: 8 } },
    });
    expect(started.status, await started.clone().text()).toBe(201);
    const { workflowId } = (await started.json()) as { workflowId: string };

    let sawTimer = false;
    const streamed: SseEvent[] = [];
    const reading = readRunStream(p, workflowId, operator.headers, {
      timeoutMs: 150_000,
      until: (e) => {
        streamed.push(e);
        if (e.event === 'history') sawTimer ||= (e.data as { events: Array<{ eventType: string }> }).events.some((h) => h.eventType === 'TimerStarted');
        return false;
      },
    });
    await until('the run waiting on its timer', async () => sawTimer, 60_000);

    await temporal.stop();
    const down = await p.request('/api/health');
    const downBody = (await down.json()) as { status: string; checks: { temporal: string; database: string } };
    await temporal.start();

    expect([down.status, downBody.status, downBody.checks.database]).toEqual([503, 'degraded', 'ok']);
    expect(downBody.checks.temporal).toMatch(/^error/);
    await until('health ok again', async () => (await p.request('/api/health')).status === 200, 60_000);

    const events = await reading;
    expect(await waitForRun(p, workflowId)).toBe('COMPLETED');
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { status: 'Completed' } });

    // History events: 1…n, each once, and the last one the completion.
    const ids = events.filter((e) => e.event === 'history').flatMap((e) => (e.data as { events: Array<{ eventId: number }> }).events.map((h) => h.eventId));
    const history = (await p.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    expect(ids).toEqual(history.map((e) => Number(e.eventId)));
    const types = events.filter((e) => e.event === 'history').flatMap((e) => (e.data as { events: Array<{ eventType: string }> }).events.map((h) => h.eventType));
    expect(types.at(-1)).toBe('WorkflowExecutionCompleted');
    // Output once; cursors only move forward.
    expect(events.filter((e) => e.event === 'log').map((e) => (e.data as { data: string }).data)).toEqual(['before the restart\n']);
    const cursors = events.filter((e) => e.event !== 'steps' && e.event !== 'end').map((e) => e.id!.split('-').map(Number) as [number, number]);
    for (let i = 1; i < cursors.length; i++) {
      const [h0, l0] = cursors[i - 1]!;
      const [h1, l1] = cursors[i]!;
      expect(h1 > h0 || l1 > l0, `cursor ${cursors[i]} after ${cursors[i - 1]}`).toBe(true);
    }
    expect(streamed.some((e) => e.event === 'error')).toBe(false);

    // New runs start and finish on the restarted server.
    const again = await p.request('/api/runs', { headers: operator.headers, body: { operation: 'system.noop', input: { echo: ['after'] } } });
    expect(again.status).toBe(201);
    expect(await waitForRun(p, ((await again.json()) as { workflowId: string }).workflowId)).toBe('COMPLETED');
  });
});
