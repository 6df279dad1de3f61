/** A minimal Server-Sent-Events reader over a real `fetch` response body. */

export interface SseEvent {
  event: string;
  id: string | null;
  data: unknown;
  /** Wall-clock time (ms, sub-millisecond precision) at which the chunk carrying this frame was read. */
  receivedAt: number;
}

/**
 * Wall-clock milliseconds with sub-millisecond precision: the process's start on the system
 * clock plus the monotonic time since, so it is comparable with timestamps from Postgres on the
 * same machine.
 */
export const wallClockMs = () => performance.timeOrigin + performance.now();

/**
 * Parses frames as they arrive and hands each to `onEvent`; stops when it returns true, at the
 * `end` event, or when the body ends. Keepalive comments are skipped. The arrival time is taken
 * as soon as a chunk is read, before any parsing, so parsing cost is not counted as latency.
 */
export async function readSse(res: Response, onEvent: (e: SseEvent) => boolean | void): Promise<void> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      const receivedAt = wallClockMs();
      if (done) return;
      buffer += value;
      let sep: number;
      while ((sep = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, sep);
        buffer = buffer.slice(sep + 2);
        const e: SseEvent = { event: 'message', id: null, data: null, receivedAt };
        const data: string[] = [];
        for (const line of frame.split('\n')) {
          if (line.startsWith('event:')) e.event = line.slice(6).trim();
          else if (line.startsWith('id:')) e.id = line.slice(3).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
        }
        if (!data.length) continue;
        e.data = JSON.parse(data.join('\n'));
        if (onEvent(e) === true || e.event === 'end') return;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
