import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { readRunStream, waitForRun } from '../../../../test/runs';

const root = fileURLToPath(new URL('../../../..', import.meta.url));

/**
 * Issue 10, finding 1: failure messages and stack traces were stored in clear in Temporal's
 * history. Now they travel encoded and sealed like payloads; the API opens them for its readers.
 */
describe('failures in Temporal history', () => {
  let p: TestPlatform;
  let operator: SignedIn;
  let viewer: SignedIn;

  beforeAll(async () => {
    p = await createTestPlatform();
    const tenant = await p.createTenant();
    operator = await p.signIn({ tenantId: tenant.id, role: 'operator' });
    viewer = await p.signIn({ tenantId: tenant.id, role: 'viewer' });
    await p.startCoreWorker();
  });
  afterAll(() => p.close());

  it('holds no failure message or stack trace in clear; readers of the run still see the message', async () => {
    const secret = `s3cret-${randomUUID()}`;
    const started = await p.request('/api/runs', { headers: operator.headers, body: { operation: 'system.noop', input: { failWith: secret } } });
    expect(started.status).toBe(201);
    const { workflowId } = (await started.json()) as { workflowId: string };
    expect(await waitForRun(p, workflowId)).toBe('FAILED');

    // The history as Temporal stores it and as `temporal workflow show` prints it: no codec.
    const raw = await p.temporal.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId } });
    const stored = JSON.stringify(raw.history);
    expect(stored).toContain('Encoded failure');
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(root); // stack traces carry source paths
    expect(stored).not.toMatch(/\bat \S+ \(/); // nor any stack frame
    const failed = (raw.history?.events ?? []).flatMap((e) => [e.activityTaskFailedEventAttributes?.failure, e.workflowExecutionFailedEventAttributes?.failure]).filter(Boolean);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    for (const f of failed) expect(f!.encodedAttributes?.metadata?.encoding && Buffer.from(f!.encodedAttributes.metadata.encoding).toString()).toBe('binary/encrypted');

    // Through the API, every reader of the run sees what went wrong (a viewer included).
    const res = await p.request(`/api/runs/${encodeURIComponent(workflowId)}`, { headers: viewer.headers });
    expect(res.status).toBe(200);
    const detail = (await res.json()) as { error: { message: string; cause: { message: string } | null }; steps: Array<{ error: { message: string } | null }> };
    expect(JSON.stringify(detail.error)).toContain(secret);
    expect(detail.steps.find((s) => s.error)?.error?.message).toBe(secret);

    // And the live stream folds the same decoded steps.
    const events = await readRunStream(p, workflowId, viewer.headers);
    const steps = events.filter((e) => e.event === 'steps').at(-1)!.data as { steps: Array<{ error: { message: string } | null }> };
    expect(steps.steps.find((s) => s.error)?.error?.message).toBe(secret);
  });
});
