import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../../test/platform';

describe('GET /api/health', () => {
  let platform: TestPlatform;
  beforeAll(async () => {
    platform = await createTestPlatform();
  });
  afterAll(() => platform.close());

  it('reports the database and Temporal as reachable', async () => {
    const res = await platform.request('/api/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', checks: { database: 'ok', temporal: 'ok' } });
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await platform.request('/api/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'not_found' });
  });

  it('serves the OpenAPI description', async () => {
    const res = await platform.request('/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/runs', '/api/runs/{workflowId}', '/api/runs/{workflowId}/stream', '/api/containers', '/api/auth/login', '/api/api-keys']),
    );
    expect(doc.components.schemas).toHaveProperty('RunError');
  });
});
