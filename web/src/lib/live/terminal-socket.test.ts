import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { binaryStringToBytes, describeClose, openTerminalSocket, terminalUrl, type SocketLike, type TerminalStatus } from './terminal-socket';

/** A real WebSocket server playing the API's part: it records frames and answers on cue. */
let server: Server;
let base: string;
let peers: Array<{ ws: WebSocket; frames: Array<{ data: string; binary: boolean }> }> = [];

beforeAll(async () => {
  const wss = new WebSocketServer({ noServer: true });
  server = createServer();
  server.on('upgrade', (req, socket, head) => {
    if (req.url?.includes('refused')) return void socket.end('HTTP/1.1 409 Conflict\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const peer = { ws, frames: [] as Array<{ data: string; binary: boolean }> };
      ws.on('message', (data: Buffer, binary) => peer.frames.push({ data: data.toString('utf8'), binary }));
      peers.push(peer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const p of peers) p.ws.terminate();
  await new Promise((r) => server.close(r));
});

const createSocket = (url: string) => new WebSocket(url) as unknown as SocketLike;

async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 150 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

function open(path = '/api/containers/c1/terminal') {
  peers = [];
  const statuses: TerminalStatus[] = [];
  const output: number[] = [];
  const controls: unknown[] = [];
  const terminal = openTerminalSocket({
    url: `${base}${path}`,
    createSocket,
    onData: (d) => output.push(...d),
    onStatus: (s) => statuses.push(s),
    onControl: (m) => controls.push(m),
  });
  return { terminal, statuses, controls, text: () => new TextDecoder().decode(new Uint8Array(output)) };
}

describe('terminalUrl', () => {
  it('uses ws: or wss: like the page, on the same host, with the id encoded', () => {
    expect(terminalUrl({ protocol: 'http:', host: 'localhost:5173' }, 'abc')).toBe('ws://localhost:5173/api/containers/abc/terminal');
    expect(terminalUrl({ protocol: 'https:', host: 'keelson.example' }, 'a/b', 'bash')).toBe('wss://keelson.example/api/containers/a%2Fb/terminal?shell=bash');
  });
});

describe('openTerminalSocket', () => {
  it('sends keystrokes as binary frames and the size as JSON, once open and only when it changes', async () => {
    const t = open();
    // Before the socket opens: the size waits, keystrokes have nowhere to go.
    t.terminal.resize(80, 24);
    t.terminal.resize(100, 30);
    expect(t.terminal.status).toEqual({ kind: 'connecting' });
    await until(() => t.terminal.status.kind === 'connected', 'the connection');
    await until(() => peers[0]?.frames.length === 1, 'the first size');

    t.terminal.send('ls -l\r');
    t.terminal.send(binaryStringToBytes('\x1b[M !!'));
    t.terminal.resize(100, 30); // unchanged: not sent again
    t.terminal.resize(0, 10); // not a size: ignored
    t.terminal.resize(5000, 40); // capped at the API's limit
    await until(() => peers[0]!.frames.length === 4, 'the frames');
    expect(peers[0]!.frames).toEqual([
      { data: '{"type":"resize","cols":100,"rows":30}', binary: false },
      { data: 'ls -l\r', binary: true },
      { data: '\x1b[M !!', binary: true },
      { data: '{"type":"resize","cols":1000,"rows":40}', binary: false },
    ]);
    expect(t.statuses.map((s) => s.kind)).toEqual(['connected']);
    t.terminal.close();
  });

  it('hands output bytes over whole, even split inside a character, and control messages apart', async () => {
    const t = open();
    await until(() => peers.length === 1, 'the server side');
    const euro = Buffer.from('price: 5 €\r\n');
    peers[0]!.ws.send(euro.subarray(0, 10), { binary: true });
    peers[0]!.ws.send(euro.subarray(10), { binary: true });
    peers[0]!.ws.send(JSON.stringify({ type: 'error', message: 'resize failed' }));
    await until(() => t.controls.length === 1 && t.text().endsWith('\r\n'), 'output and control');
    expect(t.text()).toBe('price: 5 €\r\n');
    expect(t.controls).toEqual([{ type: 'error', message: 'resize failed' }]);
    t.terminal.close();
  });

  it("reports the server's reason when it closes (the shell exited)", async () => {
    const t = open();
    await until(() => peers.length === 1, 'the server side');
    peers[0]!.ws.close(1000, 'shell exited with code 0');
    await until(() => t.terminal.status.kind === 'disconnected', 'the close');
    expect(t.terminal.status).toEqual({ kind: 'disconnected', code: 1000, reason: 'shell exited with code 0' });
    expect(t.statuses.map((s) => s.kind)).toEqual(['connected', 'disconnected']);
    // Sending after the end is a no-op, not an exception.
    t.terminal.send('echo after\r');
  });

  it('says it could not connect when the handshake is refused', async () => {
    const t = open('/api/containers/refused/terminal');
    await until(() => t.terminal.status.kind === 'disconnected', 'the refusal');
    expect(t.terminal.status).toMatchObject({ kind: 'disconnected', reason: expect.stringMatching(/could not connect/) });
    expect(t.statuses.map((s) => s.kind)).toEqual(['disconnected']);
  });

  it('closes the socket on close(), with no output after it', async () => {
    const t = open();
    await until(() => t.terminal.status.kind === 'connected', 'the connection');
    const serverClosed = new Promise<number>((r) => peers[0]!.ws.once('close', (code) => r(code)));
    t.terminal.close();
    peers[0]!.ws.send(Buffer.from('late output'), { binary: true });
    expect(await serverClosed).toBe(1000);
    await until(() => t.terminal.status.kind === 'disconnected', 'the close');
    expect(t.terminal.status).toMatchObject({ reason: 'closed' });
    expect(t.text()).toBe('');
  });

  it('describes a lost connection and a restarting server', () => {
    expect(describeClose(1006, '', true)).toBe('the connection was lost');
    expect(describeClose(1001, '', true)).toBe('the server is restarting');
    expect(describeClose(4000, 'no input for 30 minutes', true)).toBe('no input for 30 minutes');
  });
});
