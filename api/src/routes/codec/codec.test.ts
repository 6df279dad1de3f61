import { EncryptionCodec, payloadToJson, type JsonPayload } from '@keelson/common/codec';
import { WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { keelsonDataConverter } from '@keelson/common/temporal';
import { Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, TEST_KEYS, type SignedIn, type TestPlatform } from '../../../../test/platform';
import { waitForRun } from '../../../../test/runs';

/**
 * Issue 10, finding 3: one key ring and no tenant binding let organization B's credentials turn
 * organization A's ciphertext into plaintext through /api/codec/decode. Payloads are now sealed
 * with each organization's own data key and bound to it.
 */
describe('per-organization payload keys and the codec endpoint', () => {
  let p: TestPlatform;
  let operatorA: SignedIn;
  let tenantA: string;
  let keyB: string;

  beforeAll(async () => {
    p = await createTestPlatform();
    tenantA = (await p.createTenant()).id;
    const tenantB = (await p.createTenant()).id;
    operatorA = await p.signIn({ tenantId: tenantA, role: 'operator' });
    keyB = await p.createApiKey({ tenantId: tenantB, scopes: ['workflow.read', 'workflow.payloads'] });
    await p.startCoreWorker();
  });
  afterAll(() => p.close());

  const decode = (headers: Record<string, string>, payloads: JsonPayload[]) => p.request('/api/codec/decode', { headers, body: { payloads } });

  async function startNoop(secret: string) {
    const res = await p.request('/api/runs', { headers: operatorA.headers, body: { operation: 'system.noop', input: { echo: [secret] } } });
    expect(res.status).toBe(201);
    const { workflowId } = (await res.json()) as { workflowId: string };
    expect(await waitForRun(p, workflowId)).toBe('COMPLETED');
    const raw = await p.temporal.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId } });
    return { workflowId, events: raw.history?.events ?? [] };
  }

  it("seals an organization's payloads with its own key: its members decode them, another organization gets 403", async () => {
    const secret = `secret-${randomUUID()}`;
    const { events } = await startNoop(secret);
    const input = events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    expect(Buffer.from(input.metadata!['keelson-tenant']!).toString()).toBe(tenantA);
    expect(Buffer.from(input.metadata!['encryption-key-id']!).toString()).toBe('org-v1');
    const sealed = payloadToJson(input);

    const foreign = await decode({ authorization: `Bearer ${keyB}` }, [sealed]);
    expect(foreign.status).toBe(403);
    expect(await foreign.text()).not.toContain(secret);

    const own = await decode(operatorA.headers, [sealed]);
    expect(own.status).toBe(200);
    const [opened] = ((await own.json()) as { payloads: JsonPayload[] }).payloads;
    expect(Buffer.from(opened!.data!, 'base64').toString()).toContain(secret);

    // Relabelling the payload as B's does not help B: the organization is bound into the seal.
    const relabelled = { ...sealed, metadata: { ...sealed.metadata, 'keelson-tenant': Buffer.from((await (await p.request('/api/auth/me', { headers: { authorization: `Bearer ${keyB}` } })).json() as { organization: { id: string } }).organization.id).toString('base64') } };
    const tampered = await decode({ authorization: `Bearer ${keyB}` }, [relabelled]);
    expect(tampered.status).toBe(400);
    expect(await tampered.text()).not.toContain(secret);

    // Encoding as A gives a payload A can open and B cannot.
    const encoded = await p.request('/api/codec/encode', { headers: operatorA.headers, body: { payloads: [opened] } });
    const [again] = ((await encoded.json()) as { payloads: JsonPayload[] }).payloads;
    expect((await decode({ authorization: `Bearer ${keyB}` }, [again!])).status).toBe(403);
    expect((await decode(operatorA.headers, [again!])).status).toBe(200);
  });

  it('still opens histories sealed with the key ring alone in the run views, but not through the endpoint', async () => {
    // A run started the way Keelson started runs before per-organization keys.
    const legacy = new Client({ connection: p.temporal.connection, namespace: 'default', dataConverter: keelsonDataConverter(TEST_KEYS) });
    const secret = `legacy-${randomUUID()}`;
    const workflowId = `noop/legacy-${randomUUID()}`;
    await legacy.workflow.start(WorkflowType.noop, {
      taskQueue: p.coreTaskQueue,
      workflowId,
      args: [{ tenantId: tenantA, actor: `user:${operatorA.userId}`, echo: [secret] }],
      typedSearchAttributes: runSearchAttributes({ tenantId: tenantA, operation: 'system.noop', resources: [], actor: `user:${operatorA.userId}` }),
    });
    expect(await waitForRun(p, workflowId)).toBe('COMPLETED');
    const raw = await p.temporal.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId } });
    const input = raw.history!.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    expect(input.metadata!['keelson-tenant']).toBeUndefined();
    expect(Buffer.from((await new EncryptionCodec(TEST_KEYS).decode([input]))[0]!.data!).toString()).toContain(secret);

    const detail = await p.request(`/api/runs/${encodeURIComponent(workflowId)}`, { headers: operatorA.headers });
    expect(detail.status).toBe(200);
    expect(JSON.stringify(((await detail.json()) as { input: unknown }).input)).toContain(secret);

    const viaEndpoint = await decode(operatorA.headers, [payloadToJson(input)]);
    expect(viaEndpoint.status).toBe(403);
    expect(await viaEndpoint.text()).not.toContain(secret);
  });
});
