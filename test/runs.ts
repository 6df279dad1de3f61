import { createServer } from 'node:net';
import type { TestPlatform } from './platform';

export interface SseEvent {
  event: string;
  id: string | null;
  data: unknown;
}

/** Reads a run's SSE stream until its `end` event (or `limit` events), parsing each frame. */
export async function readRunStream(
  platform: TestPlatform,
  workflowId: string,
  headers: Record<string, string>,
  opts: { lastEventId?: string; until?: (e: SseEvent) => boolean; timeoutMs?: number } = {},
): Promise<SseEvent[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), opts.timeoutMs ?? 60_000);
  const res = await platform.app.request(`/api/runs/${encodeURIComponent(workflowId)}/stream`, {
    headers: { ...headers, ...(opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}) },
    signal: abort.signal,
  });
  if (res.status !== 200) {
    clearTimeout(timer);
    throw new Error(`stream answered ${res.status}: ${await res.text()}`);
  }
  const events: SseEvent[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let sep: number;
      while ((sep = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, sep);
        buffer = buffer.slice(sep + 2);
        const e: SseEvent = { event: 'message', id: null, data: null };
        const data: string[] = [];
        for (const line of frame.split('\n')) {
          if (line.startsWith('event:')) e.event = line.slice(6).trim();
          else if (line.startsWith('id:')) e.id = line.slice(3).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
        }
        if (!data.length) continue; // keepalive comment
        e.data = JSON.parse(data.join('\n'));
        events.push(e);
        if (e.event === 'end' || opts.until?.(e)) return events;
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    abort.abort();
    await reader.cancel().catch(() => {});
  }
}

/** Waits for a run to close; returns its final status name as the API reports it. */
export async function waitForRun(platform: TestPlatform, workflowId: string, runId?: string): Promise<string> {
  const handle = platform.temporal.workflow.getHandle(workflowId, runId);
  await handle.result().catch(() => undefined);
  const d = await handle.describe();
  return d.status.name;
}

export function logText(events: SseEvent[]): string {
  return events
    .filter((e) => e.event === 'log')
    .map((e) => (e.data as { data: string }).data)
    .join('');
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}
