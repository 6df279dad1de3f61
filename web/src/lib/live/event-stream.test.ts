import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, followEventStream, type StreamState } from './event-stream';
import type { SseMessage } from './sse';

/**
 * A real HTTP server standing in for the run stream: numbered events with cursor ids, resumable
 * with Last-Event-ID. Each connection is handled by the next script in `plan`.
 */
type Script = (ctx: { req: IncomingMessage; res: ServerResponse; from: number; send: (n: number) => void }) => void | Promise<void>;

interface TestServer {
  url: string;
  /** Last-Event-ID of each request, in order (null when absent). */
  seen: Array<string | null>;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const frame = (n: number) => `event: log\nid: ${n}-${n * 10}\ndata: {"n":${n},"text":"line ${n} é✓"}\n\n`;

async function startServer(plan: Script[], fallback?: Script): Promise<TestServer> {
  const seen: Array<string | null> = [];
  const server: Server = createServer((req, res) => {
    const lastId = req.headers['last-event-id'];
    seen.push(typeof lastId === 'string' ? lastId : null);
    const from = typeof lastId === 'string' ? Number(lastId.split('-')[0]) : 0;
    const script = plan.shift() ?? fallback;
    if (!script) {
      res.writeHead(500).end();
      return;
    }
    const send = (n: number) => res.write(frame(n));
    void script({ req, res, from, send });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const s: TestServer = {
    url: `http://127.0.0.1:${port}/api/runs/x/stream`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(s);
  return s;
}

const openStream = (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.flushHeaders();
};
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));
const unavailable: Script = ({ res }) => {
  res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'unavailable', message: 'try later', requestId: 'r1' }));
};
const isEnd = (m: SseMessage) => m.event === 'end';
const fastBackoff = { initialMs: 40, maxMs: 120, random: () => 0.5 };

describe('followEventStream', () => {
  it('resumes from the last complete frame after drops and errors, with nothing lost or repeated', async () => {
    const server = await startServer([
      // 1: three events, then half of the fourth (its id included), then the connection dies.
      async ({ res, send }) => {
        openStream(res);
        for (const n of [1, 2, 3]) send(n);
        await tick();
        res.write(frame(4).slice(0, 30));
        await tick();
        res.destroy();
      },
      // 2, 3: the API is briefly unavailable.
      unavailable,
      unavailable,
      // 4: resumes, with a keepalive and a character split across two writes, then closes cleanly.
      async ({ res, from, send }) => {
        openStream(res);
        res.write(': keepalive\n\n');
        const bytes = Buffer.from(frame(from + 1));
        const cut = bytes.indexOf(Buffer.from('✓')) + 1; // inside the 3-byte character
        res.write(bytes.subarray(0, cut));
        await tick();
        res.write(bytes.subarray(cut));
        for (let n = from + 2; n <= 6; n++) send(n);
        await tick();
        res.end();
      },
      // 5: the rest and the final event.
      async ({ res, from, send }) => {
        openStream(res);
        for (let n = from + 1; n <= 9; n++) send(n);
        res.write('event: end\nid: 9-90\ndata: {"status":"Completed"}\n\n');
        // A server that keeps the connection open after `end` must not keep the client.
        await tick(200);
        res.end();
      },
    ]);

    const received: SseMessage[] = [];
    const states: StreamState[] = [];
    const result = await followEventStream({
      url: server.url,
      signal: new AbortController().signal,
      onMessage: (m) => received.push(m),
      isFinal: isEnd,
      onState: (s) => states.push(s),
      backoff: fastBackoff,
    });

    expect(result).toEqual({ outcome: 'ended' });
    const logs = received.filter((m) => m.event === 'log').map((m) => JSON.parse(m.data) as { n: number; text: string });
    expect(logs.map((l) => l.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(logs.every((l) => l.text === `line ${l.n} é✓`)).toBe(true);
    expect(received.at(-1)).toEqual({ event: 'end', data: '{"status":"Completed"}', id: '9-90' });
    // The cut-off fourth frame's id was never taken as the resume point.
    expect(server.seen).toEqual([null, '3-30', '3-30', '3-30', '6-60']);
    // Backoff: quick after a connection that delivered, doubling while failing, capped.
    const waits = states.flatMap((s) => (s.kind === 'waiting' ? [s.retryInMs] : []));
    expect(waits).toEqual([40, 80, 120, 40]);
    expect(states.filter((s) => s.kind === 'open')).toHaveLength(3);
  });

  it('sends the id it starts from on the first connection', async () => {
    const server = await startServer([
      ({ res, from, send }) => {
        openStream(res);
        send(from + 1);
        res.write('event: end\ndata: {}\n\n');
      },
    ]);
    const received: SseMessage[] = [];
    await followEventStream({ url: server.url, lastEventId: '41-410', signal: new AbortController().signal, onMessage: (m) => received.push(m), isFinal: isEnd });
    expect(server.seen).toEqual(['41-410']);
    expect(received.map((m) => m.id)).toEqual(['42-420', '42-420']);
  });

  it("gives up on an error that retrying cannot fix, with the API's error", async () => {
    const server = await startServer([
      ({ res }) => {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'not_found', message: 'run not found', requestId: 'r2' }));
      },
    ]);
    const result = await followEventStream({ url: server.url, signal: new AbortController().signal, onMessage: () => {}, isFinal: isEnd, backoff: fastBackoff });
    expect(result.outcome).toBe('failed');
    if (result.outcome !== 'failed') return;
    expect(result.error).toMatchObject({ status: 404, code: 'not_found', message: 'run not found', requestId: 'r2' });
    expect(server.seen).toHaveLength(1);
  });

  it('replaces a connection that went silent, resuming where it was', async () => {
    const server = await startServer([
      ({ res, send }) => {
        openStream(res);
        send(1);
        // …and then nothing, not even a keepalive.
      },
      ({ res, from, send }) => {
        openStream(res);
        send(from + 1);
        res.write('event: end\ndata: {}\n\n');
      },
    ]);
    const received: SseMessage[] = [];
    const result = await followEventStream({
      url: server.url,
      signal: new AbortController().signal,
      onMessage: (m) => received.push(m),
      isFinal: isEnd,
      backoff: fastBackoff,
      idleTimeoutMs: 150,
    });
    expect(result.outcome).toBe('ended');
    expect(server.seen).toEqual([null, '1-10']);
    expect(received.filter((m) => m.event === 'log').map((m) => m.id)).toEqual(['1-10', '2-20']);
  });

  it('stops reconnecting once aborted, during a wait or an open connection', async () => {
    const server = await startServer([], unavailable);
    const controller = new AbortController();
    const running = followEventStream({ url: server.url, signal: controller.signal, onMessage: () => {}, isFinal: isEnd, backoff: { initialMs: 30, maxMs: 30, random: () => 0.5 } });
    await tick(100);
    controller.abort();
    expect(await running).toEqual({ outcome: 'aborted' });
    await tick(50); // a request already on the wire may still arrive
    const count = server.seen.length;
    expect(count).toBeGreaterThanOrEqual(2);
    await tick(150);
    expect(server.seen).toHaveLength(count);

    const streaming = await startServer([
      ({ res, send }) => {
        openStream(res);
        send(1);
      },
    ]);
    const second = new AbortController();
    const open = followEventStream({ url: streaming.url, signal: second.signal, onMessage: () => second.abort(), isFinal: isEnd });
    expect(await open).toEqual({ outcome: 'aborted' });
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap, with ±20% jitter', () => {
    const steady = { initialMs: 500, maxMs: 10_000, random: () => 0.5 };
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelay(n, steady))).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
    expect(backoffDelay(0, { ...steady, random: () => 0 })).toBe(400);
    expect(backoffDelay(0, { ...steady, random: () => 0.999 })).toBeLessThanOrEqual(600);
    expect(backoffDelay(9, { ...steady, random: () => 0.999 })).toBe(10_000);
  });
});
