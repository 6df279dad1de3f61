import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createUpgradeProxy } from '../../../ws-proxy.js';

/** A real WebSocket server standing in for the API: it echoes, greets, and refuses on request. */
let api: Server;
let apiUrl: string;
const handshakes: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
const apiSockets = new Set<WebSocket>();

/** The web server: no SvelteKit here, only its upgrade path. */
let web: Server;
let webUrl: string;
let proxy: ReturnType<typeof createUpgradeProxy>;

const listen = async (server: Server) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
};

beforeAll(async () => {
  const wss = new WebSocketServer({ noServer: true });
  api = createServer((_req, res) => res.writeHead(426).end());
  api.on('upgrade', (req, socket, head) => {
    handshakes.push({ url: req.url ?? '', headers: req.headers });
    if (req.url?.includes('refuse')) return void socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    wss.handleUpgrade(req, socket, head, (ws) => {
      apiSockets.add(ws);
      ws.on('close', () => apiSockets.delete(ws));
      ws.send('hello from the API');
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'close please') return ws.close(4000, 'asked to');
        ws.send(Buffer.concat([Buffer.from('echo:'), data as Buffer]), { binary: isBinary });
      });
    });
  });
  apiUrl = `http://127.0.0.1:${await listen(api)}`;

  proxy = createUpgradeProxy({ apiUrl });
  web = createServer((_req, res) => res.writeHead(200).end('the app'));
  web.on('upgrade', proxy.handleUpgrade);
  webUrl = `ws://127.0.0.1:${await listen(web)}`;
});

afterAll(async () => {
  proxy.closeAll();
  for (const s of apiSockets) s.terminate();
  await Promise.all([new Promise((r) => api.close(r)), new Promise((r) => web.close(r))]);
});

/** Connects through the proxy; a refused handshake resolves with its status. */
function connect(path: string, headers: Record<string, string> = {}) {
  return new Promise<{ ws: WebSocket; messages: Array<{ data: string; binary: boolean }> } | { status: number }>((resolve, reject) => {
    const ws = new WebSocket(`${webUrl}${path}`, { headers });
    const messages: Array<{ data: string; binary: boolean }> = [];
    ws.on('message', (data: Buffer, binary) => messages.push({ data: data.toString('utf8'), binary }));
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('unexpected-response', (req, res) => {
      res.resume();
      req.destroy();
      resolve({ status: res.statusCode ?? 0 });
    });
    ws.once('error', reject);
  });
}

async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('createUpgradeProxy', () => {
  it('forwards the handshake as the browser sent it and relays frames both ways', async () => {
    const res = await connect('/api/containers/abc/terminal?shell=sh', { origin: 'http://127.0.0.1:5173', cookie: 'keelson_session=s1', 'x-forwarded-for': '203.0.113.9' });
    if (!('ws' in res)) throw new Error(`refused with ${res.status}`);
    const { ws, messages } = res;

    const seen = handshakes.at(-1)!;
    expect(seen.url).toBe('/api/containers/abc/terminal?shell=sh');
    // The browser's Host, not the API's: the API compares it with Origin.
    expect(seen.headers.host).toBe(new URL(webUrl).host);
    expect(seen.headers.origin).toBe('http://127.0.0.1:5173');
    expect(seen.headers.cookie).toBe('keelson_session=s1');
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen.headers.upgrade?.toLowerCase()).toBe('websocket');

    await until(() => messages.length === 1, 'the greeting');
    expect(messages[0]).toEqual({ data: 'hello from the API', binary: false });

    ws.send(Buffer.from('ls -l\n'));
    ws.send('{"type":"resize","cols":120,"rows":40}');
    await until(() => messages.length === 3, 'both echoes');
    expect(messages.slice(1)).toEqual([
      { data: 'echo:ls -l\n', binary: true },
      { data: 'echo:{"type":"resize","cols":120,"rows":40}', binary: false },
    ]);

    // A large frame crosses in pieces and arrives whole.
    const big = 'x'.repeat(256 * 1024);
    ws.send(Buffer.from(big));
    await until(() => messages.length === 4, 'the large echo');
    expect(messages[3]!.data).toBe(`echo:${big}`);

    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.send('close please');
    expect(await closed).toEqual({ code: 4000, reason: 'asked to' });
    await until(() => proxy.size === 0, 'the relay to be torn down');
  });

  it("passes the API's refusal through as an HTTP status", async () => {
    expect(await connect('/api/refuse')).toEqual({ status: 403 });
  });

  it('closes the API side when the browser goes away', async () => {
    const res = await connect('/api/containers/abc/terminal');
    if (!('ws' in res)) throw new Error(`refused with ${res.status}`);
    await until(() => apiSockets.size === 1, 'the API socket');
    res.ws.terminate();
    await until(() => apiSockets.size === 0, 'the API to see the browser leave');
    await until(() => proxy.size === 0, 'the relay to be torn down');
  });

  it('refuses upgrades outside /api/ without contacting the API', async () => {
    const before = handshakes.length;
    await expect(connect('/containers/abc/terminal')).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(handshakes.length).toBe(before);
  });

  it('answers 502 when the API is down', async () => {
    const down = createServer();
    const port = await listen(down);
    await new Promise((r) => down.close(r));
    const deadProxy = createUpgradeProxy({ apiUrl: `http://127.0.0.1:${port}` });
    const server = createServer();
    server.on('upgrade', deadProxy.handleUpgrade);
    const url = `ws://127.0.0.1:${await listen(server)}/api/containers/abc/terminal`;
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', reject);
    });
    expect(status).toBe(502);
    await new Promise((r) => server.close(r));
  });

  it('refuses an API_URL that is not http(s)', () => {
    expect(() => createUpgradeProxy({ apiUrl: 'ftp://example.test' })).toThrow(/http/);
  });
});
