/**
 * A Server-Sent Events frame parser, as the HTML standard describes it
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation),
 * fed with decoded text in whatever pieces the network delivers.
 *
 * Pure and synchronous, so the stream client and its tests share it. Only complete frames (ended
 * by a blank line) are dispatched: a frame cut off by a dropped connection is never seen, and its
 * `id` never becomes the id a client resumes from.
 */

export interface SseMessage {
  /** `event:` field; `message` when the frame had none. */
  event: string;
  /** `data:` lines joined with `\n`. */
  data: string;
  /** The last event id as of this frame (it persists across frames until a new `id:` arrives). */
  id: string;
}

export interface SseParser {
  /** Feeds the next piece of text; returns the frames it completed, in order. */
  feed(text: string): SseMessage[];
  /** The id to resume from (`Last-Event-ID`): updated only when a frame is dispatched. */
  readonly lastEventId: string;
  /** The reconnection time the server asked for with `retry:`, if any. */
  readonly retryMs: number | null;
}

export function createSseParser(options: { lastEventId?: string } = {}): SseParser {
  let lastEventId = options.lastEventId ?? '';
  let retryMs: number | null = null;
  // Per-frame buffers.
  let pendingId = lastEventId;
  let eventType = '';
  let data = '';
  let hasData = false;
  // Stream state: the unfinished line, and whether the previous piece ended in CR (so an LF
  // starting this piece belongs to that CRLF and is not a second, empty line).
  let partial = '';
  let skipLeadingLf = false;
  let first = true;

  function dispatch(out: SseMessage[]) {
    lastEventId = pendingId;
    if (hasData) out.push({ event: eventType || 'message', data, id: lastEventId });
    eventType = '';
    data = '';
    hasData = false;
  }

  function line(text: string, out: SseMessage[]) {
    if (text === '') return dispatch(out);
    if (text.startsWith(':')) return; // a comment: keepalives look like this
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        eventType = value;
        break;
      case 'data':
        data = hasData ? `${data}\n${value}` : value;
        hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) pendingId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) retryMs = Number(value);
        break;
      // Unknown fields are ignored.
    }
  }

  return {
    feed(text) {
      const out: SseMessage[] = [];
      if (first && text.length) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      if (skipLeadingLf && text.startsWith('\n')) text = text.slice(1);
      skipLeadingLf = false;
      let start = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        line(partial + text.slice(start, i), out);
        partial = '';
        if (c === 13) {
          if (i + 1 === text.length) skipLeadingLf = true;
          else if (text.charCodeAt(i + 1) === 10) i++;
        }
        start = i + 1;
      }
      partial += text.slice(start);
      return out;
    },
    get lastEventId() {
      return lastEventId;
    },
    get retryMs() {
      return retryMs;
    },
  };
}
