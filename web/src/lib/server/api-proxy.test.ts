import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyToApi } from './api-proxy';

/** A real HTTP server standing in for the API. */
let api: Server;
let apiUrl: string;
let streamClosed: Promise<void>;
let markStreamClosed: () => void;
let release: () => void = () => {};

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

beforeAll(async () => {
  streamClosed = new Promise((r) => (markStreamClosed = r));
  api = createServer(async (req, res) => {
    if (req.url?.startsWith('/api/echo')) {
      const body = await readBody(req);
      res.setHeader('set-cookie', ['keelson_session=abc; Path=/; HttpOnly; SameSite=Lax; Expires=Wed, 21 Oct 2037 07:28:00 GMT', 'other=1; Path=/']);
      res.writeHead(201, { 'content-type': 'application/json', 'x-request-id': 'req-1' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
      return;
    }
    if (req.url?.startsWith('/api/stream')) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('event: log\nid: 1-1\ndata: first\n\n');
      // The second frame waits until the test has seen the first one through the proxy.
      await new Promise<void>((r) => (release = r));
      res.write('event: log\nid: 1-2\ndata: second\n\n');
      res.on('close', () => markStreamClosed());
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'not_found', message: 'no route', requestId: 'x' }));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});

afterAll(async () => {
  release();
  api.closeAllConnections();
  await new Promise((r) => api.close(r));
});

describe('proxyToApi', () => {
  it('forwards method, path, query, cookies, CSRF header and a streamed body; keeps each Set-Cookie', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"email":"a@b.c",'));
        controller.enqueue(new TextEncoder().encode('"password":"pw"}'));
        controller.close();
      },
    });
    const request = new Request('http://web.local:5173/api/echo/x%2Fy?status=Running', {
      method: 'POST',
      headers: { cookie: 'keelson_session=old', 'x-csrf-token': 'tok', 'content-type': 'application/json', 'accept-encoding': 'gzip', connection: 'keep-alive' },
      body,
      // @ts-expect-error: Node's Request needs duplex for a stream body.
      duplex: 'half',
    });
    const res = await proxyToApi(request, { apiUrl, clientAddress: '10.1.2.3' });

    expect(res.status).toBe(201);
    expect(res.headers.get('x-request-id')).toBe('req-1');
    expect(res.headers.getSetCookie()).toEqual([
      'keelson_session=abc; Path=/; HttpOnly; SameSite=Lax; Expires=Wed, 21 Oct 2037 07:28:00 GMT',
      'other=1; Path=/',
    ]);
    const echo = (await res.json()) as { method: string; url: string; headers: Record<string, string>; body: string };
    expect(echo.method).toBe('POST');
    expect(echo.url).toBe('/api/echo/x%2Fy?status=Running');
    expect(echo.body).toBe('{"email":"a@b.c","password":"pw"}');
    expect(echo.headers).toMatchObject({
      cookie: 'keelson_session=old',
      'x-csrf-token': 'tok',
      'x-forwarded-for': '10.1.2.3',
      'x-forwarded-host': 'web.local:5173',
      'x-forwarded-proto': 'http',
    });
    expect(echo.headers['accept-encoding']).not.toBe('gzip');
  });

  it('passes error answers through unchanged', async () => {
    const res = await proxyToApi(new Request('http://web.local/api/nothing'), { apiUrl });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'not_found', message: 'no route' });
  });

  it('streams Server-Sent Events frame by frame, and closes the upstream when the browser leaves', async () => {
    const browser = new AbortController();
    const res = await proxyToApi(new Request('http://web.local/api/stream', { signal: browser.signal }), { apiUrl });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    // The first frame arrives while the API still holds back the second: nothing is buffered.
    expect(decoder.decode((await reader.read()).value)).toContain('data: first');
    release();
    expect(decoder.decode((await reader.read()).value)).toContain('data: second');
    browser.abort();
    await reader.cancel().catch(() => {});
    await streamClosed;
  });

  it('answers 502 in the API error shape when the API is down', async () => {
    const res = await proxyToApi(new Request('http://web.local/api/runs'), { apiUrl: 'http://127.0.0.1:1' });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ code: 'bad_gateway' });
  });
});
