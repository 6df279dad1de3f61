import { ENCODING_ENCRYPTED, payloadToJson } from '@keelson/common/codec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { logText, readRunStream, waitForRun, type SseEvent } from '../../../../test/runs';

interface Started {
  workflowId: string;
  runId: string;
  operation: string;
}
interface Detail {
  status: string;
  runId: string;
  input?: { echo?: string[] };
  result?: unknown;
  error: { type: string; message: string; cause: unknown } | null;
  steps: Array<{
    name: string;
    kind: string;
    state: string;
    attempts: number;
    input?: unknown;
    error: { type: string } | null;
    nextAt?: string | null;
    approval?: { prompt: string; expiresAt: string | null; decision: { outcome: string; by: string | null; comment: string | null } | null };
  }>;
  waitingFor: Array<{ kind: string; until: string | null }>;
  payloadsVisible: boolean;
  actions: Record<string, boolean>;
  temporalUiUrl: string;
}

describe('runs API', () => {
  let p: TestPlatform;
  let tenantId: string;
  let operator: SignedIn;
  let viewer: SignedIn;

  const path = (workflowId: string, suffix = '') => `/api/runs/${encodeURIComponent(workflowId)}${suffix}`;
  async function start(input: Record<string, unknown>, who: SignedIn = operator): Promise<Started> {
    const res = await p.request('/api/runs', { headers: who.headers, body: { operation: 'system.noop', input } });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as Started;
  }
  const detail = async (workflowId: string, who: SignedIn = operator) => (await (await p.request(path(workflowId), { headers: who.headers })).json()) as Detail;
  const post = (url: string, body?: unknown, who: SignedIn = operator) => p.request(url, { method: 'POST', headers: who.headers, body });

  /** Visibility is eventually consistent; poll until the run is listed. */
  async function listed(query: string, workflowId: string) {
    for (let i = 0; i < 50; i++) {
      const res = await p.request(`/api/runs?${query}`, { headers: operator.headers });
      const page = (await res.json()) as { items: Array<{ workflowId: string }> };
      if (page.items.some((r) => r.workflowId === workflowId)) return page;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${workflowId} never listed for ${query}`);
  }

  beforeAll(async () => {
    p = await createTestPlatform();
    await p.startCoreWorker();
    tenantId = (await p.createTenant()).id;
    operator = await p.signIn({ tenantId, role: 'operator' });
    viewer = await p.signIn({ tenantId, role: 'viewer' });
  });
  afterAll(() => p.close());

  it('starts an operation, lists it with filters, and shows its steps, input and result', async () => {
    const run = await start({ echo: ['alpha', 'beta'] });
    expect(run.operation).toBe('system.noop');
    expect(await waitForRun(p, run.workflowId)).toBe('COMPLETED');

    const page = await listed('operation=system.noop&status=Completed', run.workflowId);
    expect(page.items.find((r) => r.workflowId === run.workflowId)).toMatchObject({ operation: 'system.noop', status: 'Completed', actor: `user:${operator.userId}` });
    const other = (await (await p.request('/api/runs?status=Running', { headers: operator.headers })).json()) as { items: Array<{ workflowId: string }> };
    expect(other.items.map((r) => r.workflowId)).not.toContain(run.workflowId);

    const d = await detail(run.workflowId);
    expect(d).toMatchObject({ status: 'Completed', payloadsVisible: true, input: { echo: ['alpha', 'beta'] }, result: { ok: true, echoed: 2 } });
    expect(d.steps).toEqual([expect.objectContaining({ kind: 'activity', name: 'echo', state: 'completed', attempts: 1 })]);
    expect(d.actions).toEqual({ cancel: false, terminate: false, retry: false, rerun: true, decide: false });
    expect(d.temporalUiUrl).toContain(encodeURIComponent(run.workflowId));
  });

  it('pages through runs with a page token and filters by start time', async () => {
    // An organization of its own, so only this test's runs match.
    const own = await p.signIn({ tenantId: (await p.createTenant()).id, role: 'operator' });
    const before = new Date(Date.now() - 1000).toISOString();
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await start({ echo: [`page-${i}`] }, own)).workflowId);
    for (const id of ids) await waitForRun(p, id);
    for (let i = 0; i < 50; i++) {
      const all = (await (await p.request('/api/runs?pageSize=10', { headers: own.headers })).json()) as { items: unknown[] };
      if (all.items.length === ids.size) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    const seen: string[] = [];
    let token: string | null = null;
    for (let page = 0; page < 10; page++) {
      const query: string = `from=${encodeURIComponent(before)}&pageSize=2${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`;
      const body = (await (await p.request(`/api/runs?${query}`, { headers: own.headers })).json()) as { items: Array<{ workflowId: string }>; nextPageToken: string | null };
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((r) => r.workflowId));
      token = body.nextPageToken;
      if (!token) break;
    }
    expect(new Set(seen)).toEqual(ids);
    expect(seen).toHaveLength(ids.size);

    const future = new Date(Date.now() + 3600_000).toISOString();
    const none = (await (await p.request(`/api/runs?from=${encodeURIComponent(future)}`, { headers: own.headers })).json()) as { items: unknown[] };
    expect(none.items).toEqual([]);
    expect((await p.request('/api/runs?pageToken=%%%', { headers: operator.headers })).status).toBe(400);
  });

  it('hides decoded inputs and outputs from roles without workflow.payloads', async () => {
    const run = await start({ echo: ['secret-ish'] });
    await waitForRun(p, run.workflowId);
    const d = await detail(run.workflowId, viewer);
    expect(d.payloadsVisible).toBe(false);
    expect(d).not.toHaveProperty('input');
    expect(d.steps[0]).not.toHaveProperty('input');
    expect(JSON.stringify(d)).not.toContain('secret-ish');
    expect(d.actions).toEqual({ cancel: false, terminate: false, retry: false, rerun: false, decide: false });
  });

  it("keeps payloads encrypted in Temporal's history; the codec endpoint decodes them for those allowed", async () => {
    const run = await start({ echo: ['plaintext-marker-42'] });
    await waitForRun(p, run.workflowId);
    const raw = await p.temporal.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: run.workflowId } });
    const started = raw.history!.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    expect(Buffer.from(started.metadata!.encoding!).toString()).toBe(ENCODING_ENCRYPTED);
    expect(Buffer.from(started.data!).toString('latin1')).not.toContain('plaintext-marker-42');

    const body = { payloads: [payloadToJson(started)] };
    const decoded = await p.request('/api/codec/decode', { headers: { cookie: operator.cookie }, body });
    expect(decoded.status).toBe(200);
    const [plain] = ((await decoded.json()) as { payloads: Array<{ data: string }> }).payloads;
    expect(Buffer.from(plain!.data, 'base64').toString()).toContain('plaintext-marker-42');
    expect((await p.request('/api/codec/decode', { headers: viewer.headers, body })).status).toBe(403);
    expect((await p.request('/api/codec/decode', { body })).status).toBe(401);
    const preflight = await p.request('/api/codec/decode', {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:8233', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
  });

  it('streams history, steps and output, and resumes from Last-Event-ID without gaps or duplicates', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => `line-${i}`);
    const run = await start({ echo: lines, sleepSeconds: 1 });
    const first = await readRunStream(p, run.workflowId, operator.headers, { until: (e) => e.event === 'log' && (e.data as { data: string }).data === 'line-9\n' });
    const resumeFrom = first.at(-1)!.id!;
    const rest = await readRunStream(p, run.workflowId, operator.headers, { lastEventId: resumeFrom });
    expect(rest.at(-1)).toMatchObject({ event: 'end', data: { status: 'Completed' } });
    const all = logText(first) + logText(rest);
    expect(all).toBe(lines.map((l) => `${l}\n`).join(''));

    const ids = (events: SseEvent[], kind: string) => events.filter((e) => e.event === kind).flatMap((e) => (e.data as { events: Array<{ eventId: number }> }).events.map((x) => x.eventId));
    const historyIds = [...ids(first, 'history'), ...ids(rest, 'history')];
    expect(new Set(historyIds).size).toBe(historyIds.length);
    expect(historyIds).toEqual([...historyIds].sort((a, b) => a - b));
    expect(historyIds[0]).toBe(1);

    // A stream opened after the run ended replays everything, then ends.
    const replay = await readRunStream(p, run.workflowId, operator.headers);
    expect(logText(replay)).toBe(all);
    const lastSteps = replay.filter((e) => e.event === 'steps').at(-1)!.data as { closed: boolean; steps: Array<{ kind: string; state: string }> };
    expect(lastSteps.closed).toBe(true);
    expect(lastSteps.steps.map((s) => [s.kind, s.state])).toEqual([
      ['activity', 'completed'],
      ['timer', 'completed'],
    ]);
  });

  it('shows what a run waits for, cancels it, and terminates another with a reason', async () => {
    const sleeping = await start({ sleepSeconds: 300 });
    let d = await detail(sleeping.workflowId);
    for (let i = 0; i < 50 && !d.waitingFor.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      d = await detail(sleeping.workflowId);
    }
    expect(d.waitingFor).toEqual([expect.objectContaining({ kind: 'timer' })]);
    expect(d.actions).toMatchObject({ cancel: true, terminate: true, retry: false, rerun: false });
    expect((await post(path(sleeping.workflowId, '/cancel'))).status).toBe(202);
    expect(await waitForRun(p, sleeping.workflowId)).toBe('CANCELLED');
    expect((await post(path(sleeping.workflowId, '/cancel'))).status).toBe(409);

    const other = await start({ sleepSeconds: 300 });
    const noReason = await post(path(other.workflowId, '/terminate'), {});
    expect(noReason.status).toBe(400);
    expect((await post(path(other.workflowId, '/terminate'), { reason: 'stuck on purpose' })).status).toBe(200);
    expect(await waitForRun(p, other.workflowId)).toBe('TERMINATED');

    const audit = (await (await p.request('/api/audit?resourceType=run', { headers: (await p.signIn({ tenantId, role: 'admin' })).headers })).json()) as {
      items: Array<{ action: string; resourceId: string; details: { reason?: string } }>;
    };
    expect(audit.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'run.cancel', resourceId: sleeping.workflowId }),
        expect.objectContaining({ action: 'run.terminate', resourceId: other.workflowId, details: expect.objectContaining({ reason: 'stuck on purpose' }) }),
      ]),
    );
  });

  it('shows what a run asks a person, takes the answer from the caller, and delivers signals', async () => {
    const run = await start({ waitForApproval: true });
    const early = await post(path(run.workflowId, '/update'), { name: 'approve', args: [{}] });
    expect(early.status).toBe(409);
    expect(((await early.json()) as { message: string }).message).toMatch(/needs \{ by \}/);

    // Waiting: an approval step with its prompt and expiry, for every reader of the run.
    const asked = await detail(run.workflowId, viewer);
    const question = asked.steps.find((s) => s.kind === 'approval');
    expect(question).toMatchObject({ state: 'waiting', approval: { prompt: expect.stringMatching(/diagnostic run/), decision: null } });
    expect(Date.parse(question!.approval!.expiresAt!) - Date.now()).toBeGreaterThan(59 * 60_000);
    expect(asked.waitingFor).toEqual([{ kind: 'approval', step: question!.name, until: question!.approval!.expiresAt }]);
    expect(asked.actions.decide).toBe(false);
    expect((await post(path(run.workflowId, '/approval'), { decision: 'approve' }, viewer)).status).toBe(403);
    expect((await detail(run.workflowId)).actions.decide).toBe(true);
    // Billing managers answer only the termination approvals of dunning runs, not this one.
    const billing = await p.signIn({ tenantId, role: 'billing' });
    expect((await detail(run.workflowId, billing)).actions.decide).toBe(false);
    const refused = await post(path(run.workflowId, '/approval'), { decision: 'approve' }, billing);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { message: string }).message).toMatch(/workflow\.signal/);
    expect((await post(path(run.workflowId, '/update'), { name: 'approve', args: [{ by: 'x' }] }, billing)).status).toBe(403);

    expect((await post(path(run.workflowId, '/signal'), { name: 'note', args: ['looks good'] })).status).toBe(202);
    expect((await post(path(run.workflowId, '/approval'), { decision: 'maybe' })).status).toBe(400);
    // `by` is the caller, whatever the body says.
    const approved = await post(path(run.workflowId, '/approval'), { decision: 'approve', comment: ' ship it ', by: 'someone-else' });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ outcome: 'approved', by: `user:${operator.userId}`, comment: 'ship it' });
    expect(await waitForRun(p, run.workflowId)).toBe('COMPLETED');
    const again = await post(path(run.workflowId, '/approval'), { decision: 'reject' });
    expect(again.status).toBe(409);

    const d = await detail(run.workflowId);
    expect(d.result).toEqual({ ok: true, echoed: 0, approvedBy: `user:${operator.userId}`, notes: ['looks good'] });
    expect(d.waitingFor).toEqual([]);
    expect(d.steps.map((s) => [s.kind, s.name, s.state])).toEqual(
      expect.arrayContaining([
        ['signal', 'note', 'completed'],
        ['update', 'approve', 'completed'],
        ['approval', question!.name, 'completed'],
      ]),
    );
    expect(d.steps.find((s) => s.kind === 'approval')).toMatchObject({ nextAt: null, approval: { decision: { outcome: 'approved', comment: 'ship it' } } });
  });

  it('fails a run whose approval is rejected, with who and why', async () => {
    const run = await start({ waitForApproval: true });
    await expect.poll(async () => (await detail(run.workflowId)).waitingFor.map((w) => w.kind)).toEqual(['approval']);
    const rejected = await post(path(run.workflowId, '/approval'), { decision: 'reject', comment: 'not today' });
    expect(rejected.status).toBe(200);
    expect(await waitForRun(p, run.workflowId)).toBe('FAILED');
    const d = await detail(run.workflowId);
    expect(d.error).toMatchObject({ type: 'ApprovalRejected', message: `rejected by user:${operator.userId}: not today` });
    expect(d.steps.find((s) => s.kind === 'approval')).toMatchObject({ state: 'failed', approval: { decision: { outcome: 'rejected', comment: 'not today' } } });
  });

  it('re-runs a finished run with the same input; retries only failed runs', async () => {
    const failed = await start({ echo: ['x'], failWith: 'broken on purpose' });
    expect(await waitForRun(p, failed.workflowId)).toBe('FAILED');
    const d = await detail(failed.workflowId);
    // The run failed because its step did: the cause chain carries the step's own error.
    expect(d.error).toMatchObject({ type: 'ActivityFailure', cause: { message: 'broken on purpose', type: 'EchoFailed', nonRetryable: true } });
    expect(d.steps[0]).toMatchObject({ name: 'echo', state: 'failed', error: { type: 'EchoFailed' } });
    expect(d.actions.retry).toBe(true);

    const retried = await post(path(failed.workflowId, '/retry'));
    expect(retried.status).toBe(200);
    const { runId } = (await retried.json()) as { runId: string };
    expect(await waitForRun(p, failed.workflowId, runId)).toBe('FAILED');

    const again = await post(path(failed.workflowId, '/rerun'));
    expect(again.status).toBe(201);
    const rerun = (await again.json()) as Started;
    expect(rerun.workflowId).toMatch(new RegExp(`^${failed.workflowId}/rerun-`));
    await waitForRun(p, rerun.workflowId);
    expect((await detail(rerun.workflowId)).input).toEqual({ echo: ['x'], failWith: 'broken on purpose', tenantId, actor: `user:${operator.userId}` });

    const ok = await start({});
    await waitForRun(p, ok.workflowId);
    expect((await post(path(ok.workflowId, '/retry'))).status).toBe(409);
  });

  it('answers bad input with 400 naming the problem, and guards with 401/403/404', async () => {
    expect((await p.request('/api/runs')).status).toBe(401);
    expect((await p.request('/api/runs?status=Exploded', { headers: operator.headers })).status).toBe(400);
    expect((await p.request('/api/runs?pageSize=0', { headers: operator.headers })).status).toBe(400);
    expect((await p.request("/api/runs?operation=x' OR KeelsonTenant != '", { headers: operator.headers })).status).toBe(400);

    const unknownOp = await post('/api/runs', { operation: 'vm.explode', input: {} });
    expect(unknownOp.status).toBe(400);
    expect(((await unknownOp.json()) as { message: string }).message).toContain('unknown operation "vm.explode"');
    const badInput = await post('/api/runs', { operation: 'system.noop', input: { echo: 'not-a-list' } });
    expect(badInput.status).toBe(400);
    expect(((await badInput.json()) as { message: string }).message).toContain('input.echo');
    expect((await post('/api/runs', { operation: 'system.noop' }, viewer)).status).toBe(403);
    expect((await p.request('/api/runs', { headers: { cookie: operator.cookie }, body: { operation: 'system.noop' } })).status).toBe(403);

    expect((await p.request(path('noop/does-not-exist'), { headers: operator.headers })).status).toBe(404);
    expect((await p.request(path('noop/does-not-exist', '/stream'), { headers: operator.headers })).status).toBe(404);
    expect((await post(path('noop/does-not-exist', '/cancel'))).status).toBe(404);

    const catalog = (await (await p.request('/api/runs/operations', { headers: viewer.headers })).json()) as { items: Array<{ name: string; inputSchema: { properties: object } }> };
    expect(catalog.items.find((o) => o.name === 'container.create')?.inputSchema.properties).toHaveProperty('blueprintId');
  });

  it('lets an API key with the right scopes start and read runs, and refuses others', async () => {
    const key = await p.createApiKey({ tenantId, scopes: ['workflow.read', 'workflow.start'] });
    const auth = { authorization: `Bearer ${key}` };
    const res = await p.request('/api/runs', { headers: auth, body: { operation: 'system.noop', input: {} } });
    expect(res.status).toBe(201);
    const run = (await res.json()) as Started;
    await waitForRun(p, run.workflowId);
    expect((await p.request(path(run.workflowId), { headers: auth })).status).toBe(200);
    expect((await p.request(path(run.workflowId, '/rerun'), { method: 'POST', headers: auth })).status).toBe(201);
    expect((await p.request(path(run.workflowId, '/retry'), { method: 'POST', headers: auth })).status).toBe(403);
  });
});
