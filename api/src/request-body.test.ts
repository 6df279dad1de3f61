import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../../test/platform';
import { onError } from './errors';
import { readBody } from './request-body';

/** Serves `fetch` on a free loopback port, as `api/src/server.ts` serves the app. */
async function listen(fetch: (req: Request, env: unknown) => Response | Promise<Response>): Promise<{ base: string; port: number; server: ServerType }> {
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, port, server };
}

/** A body sent in chunks with no Content-Length (Transfer-Encoding: chunked), as a streaming client sends it. */
function postChunked(port: number, path: string, chunks: Buffer[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    // The server may answer 413 and close before every chunk is written.
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('request bodies read from the socket', () => {
  let echo: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    const app = new Hono();
    app.use('*', readBody((path) => (path === '/small' ? 16 : 1024 * 1024)));
    // `fromSocket`: the body was read from Node's request, not through a Web `Request`.
    app.post('/json', async (c) => c.json({ parsed: await c.req.json(), fromSocket: Buffer.isBuffer((c.env as { incoming: { rawBody?: unknown } }).incoming.rawBody) }));
    app.post('/text', async (c) => c.text(await c.req.text()));
    app.post('/small', async (c) => c.text(await c.req.text()));
    app.post('/bytes', async (c) => c.text(createHash('sha256').update(Buffer.from(await c.req.arrayBuffer())).digest('hex')));
    app.post('/form', async (c) => {
      const form = await c.req.parseBody();
      const file = form.file as File;
      return c.json({ name: form.name, file: file.name, size: file.size });
    });
    app.onError(onError);
    echo = await listen(app.fetch);
  });
  afterAll(() => echo?.server.close());

  it('hands JSON, text, bytes and multipart forms to the route exactly as sent', async () => {
    const json = await fetch(`${echo.base}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":[1,"é"]}' });
    expect(await json.json()).toEqual({ parsed: { a: [1, 'é'] }, fromSocket: true });

    // Signatures are computed over the raw text: not one byte may change (spacing, key order).
    const raw = '{ "b":1,  "a" : "x" }';
    expect(await (await fetch(`${echo.base}/text`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw })).text()).toBe(raw);

    const binary = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    const digest = createHash('sha256').update(binary).digest('hex');
    expect(await (await fetch(`${echo.base}/bytes`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: binary })).text()).toBe(digest);
    // …and in chunks without a declared length.
    expect(await postChunked(echo.port, '/bytes', [binary.subarray(0, 1000), binary.subarray(1000, 50_000), binary.subarray(50_000)])).toEqual({ status: 200, body: digest });

    const form = new FormData();
    form.set('name', 'screenshot');
    form.set('file', new Blob([binary], { type: 'image/png' }), 'shot.png');
    expect(await (await fetch(`${echo.base}/form`, { method: 'POST', body: form })).json()).toEqual({ name: 'screenshot', file: 'shot.png', size: binary.length });
  });

  it('refuses a body over the limit with 413, whether its length is declared or not', async () => {
    const declared = await fetch(`${echo.base}/small`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(17) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ code: 'payload_too_large', message: 'request body is larger than 16 bytes' });
    const chunked = await postChunked(echo.port, '/small', [Buffer.alloc(10, 1), Buffer.alloc(10, 2)]);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({ code: 'payload_too_large' });
    // Exactly at the limit is fine.
    expect(await (await fetch(`${echo.base}/small`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'y'.repeat(16) })).text()).toBe('y'.repeat(16));
  });
});

describe("Keelson's API over HTTP", () => {
  let p: TestPlatform;
  let api: Awaited<ReturnType<typeof listen>>;
  let key: string;
  beforeAll(async () => {
    p = await createTestPlatform();
    api = await listen(p.app.fetch);
    key = await p.createApiKey({ tenantId: (await p.createTenant()).id, scopes: ['workflow.start', 'workflow.read'] });
  });
  afterAll(async () => {
    api?.server.close();
    await p?.close();
  });
  const post = (body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${api.base}/api/runs`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body });

  it('starts a run, and every answer carries its request id and the security headers', async () => {
    const started = await post(JSON.stringify({ operation: 'system.noop', input: {} }), { 'x-request-id': 'req-body-1' });
    expect(started.status).toBe(201);
    expect(await started.json()).toMatchObject({ operation: 'system.noop', workflowId: expect.stringMatching(/^noop\//) });
    for (const res of [started, await post('{"operation":'), await fetch(`${api.base}/api/nope`)]) {
      expect(res.headers.get('x-request-id')).toBeTruthy();
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
    expect(started.headers.get('x-request-id')).toBe('req-body-1');
  });

  it('answers a malformed body with 400 and an oversized one with 413, naming the problem', async () => {
    const malformed = await post('{"operation":');
    expect(malformed.status).toBe(400);
    expect((await malformed.json()) as { message: string }).toMatchObject({ message: expect.stringMatching(/JSON/i) });
    const oversized = await post(Buffer.alloc(1024 * 1024 + 1, 0x20));
    expect(oversized.status).toBe(413);
    expect(await oversized.json()).toMatchObject({ code: 'payload_too_large', message: 'request body is larger than 1048576 bytes' });
    const unknown = await post(JSON.stringify({ operation: 'nope', input: {} }));
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { message: string }).message).toContain('unknown operation "nope"');
  });
});
