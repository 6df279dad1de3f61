/**
 * Follows a Server-Sent-Events endpoint with `fetch`, reconnecting until a final message arrives
 * or the caller aborts. Unlike EventSource it retries HTTP failures that may pass (5xx, 408,
 * 429, a dropped proxy), with capped exponential backoff, gives up on those that cannot (401,
 * 403, 404…), and reports each state change so a view can say "disconnected — reconnecting".
 *
 * Resuming: every reconnect sends `Last-Event-ID` with the id of the last *complete* frame, so a
 * server that keeps cursors (Keelson's run stream does) sends nothing twice and skips nothing.
 *
 * Plain TypeScript (no Svelte), so Node tests can drive it against a real HTTP server.
 */
import { ApiError, readApiError, type Fetch } from '../api/request';
import { createSseParser, type SseMessage } from './sse';

export interface BackoffOptions {
  /** Delay before the first retry; doubled on each failure in a row. */
  initialMs: number;
  /** The cap. */
  maxMs: number;
  /** Source of jitter in [0, 1); each delay is scaled by 0.8–1.2. Tests pass a constant. */
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 10_000 };

/** Delay before retry number `failures` (0 = the first retry after a good connection). */
export function backoffDelay(failures: number, { initialMs, maxMs, random = Math.random }: BackoffOptions): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(failures, 30));
  return Math.round(Math.min(maxMs, base * (0.8 + 0.4 * random())));
}

export type StreamState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'open' }
  | { kind: 'waiting'; attempt: number; retryInMs: number; error: unknown };

export type StreamOutcome = { outcome: 'ended' } | { outcome: 'aborted' } | { outcome: 'failed'; error: ApiError };

export interface EventStreamOptions {
  url: string;
  /** Defaults to the global fetch. */
  fetch?: Fetch;
  /** Resume after this id (sent as `Last-Event-ID` on the first connection too). */
  lastEventId?: string;
  /** Stops the stream for good; the returned promise then resolves with `aborted`. */
  signal: AbortSignal;
  onMessage(message: SseMessage): void;
  /** A message after which the stream is complete (e.g. `end`): no reconnect follows. */
  isFinal(message: SseMessage): boolean;
  onState?(state: StreamState): void;
  backoff?: BackoffOptions;
  /**
   * With no bytes (not even a keepalive comment) for this long, the connection is taken for dead
   * and replaced. Keep it above the server's keepalive interval (15 s for Keelson's API).
   */
  idleTimeoutMs?: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 45_000;

/** 408 and 429 say "later"; 5xx (and 0, a network failure) may pass; other 4xx will not. */
const isRetryable = (status: number) => status === 0 || status === 408 || status === 429 || status >= 500;

class IdleTimeout extends Error {
  constructor(ms: number) {
    super(`no data for ${ms} ms`);
  }
}

export async function followEventStream(options: EventStreamOptions): Promise<StreamOutcome> {
  const { url, signal, onMessage, isFinal, onState = () => {} } = options;
  const fetchFn = options.fetch ?? fetch;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  let lastEventId = options.lastEventId ?? '';
  let failures = 0;

  while (!signal.aborted) {
    onState({ kind: 'connecting', attempt: failures });
    const connection = new AbortController();
    const stop = () => connection.abort();
    signal.addEventListener('abort', stop, { once: true });
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    const touch = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => connection.abort(new IdleTimeout(idleMs)), idleMs);
    };
    let error: unknown = null;
    try {
      touch();
      const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
      if (lastEventId) headers['last-event-id'] = lastEventId;
      const res = await fetchFn(url, { headers, signal: connection.signal, credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) {
        const apiError = await readApiError(res);
        if (!isRetryable(res.status)) return { outcome: 'failed', error: apiError };
        throw apiError;
      }
      if (!res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
        await res.body?.cancel();
        throw new ApiError(res.status, 'not_a_stream', 'the server did not answer with an event stream');
      }
      onState({ kind: 'open' });
      const parser = createSseParser({ lastEventId });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        touch();
        const messages = parser.feed(decoder.decode(value, { stream: true }));
        for (const message of messages) {
          lastEventId = parser.lastEventId;
          failures = 0; // this connection worked: the next drop retries quickly
          deliver(onMessage, message);
          if (isFinal(message)) {
            await reader.cancel().catch(() => {});
            return { outcome: 'ended' };
          }
        }
        // An id-only frame moves the cursor too.
        lastEventId = parser.lastEventId;
      }
      error = new Error('the server closed the stream');
    } catch (err) {
      error = connection.signal.reason instanceof IdleTimeout ? connection.signal.reason : err;
    } finally {
      clearTimeout(idleTimer);
      signal.removeEventListener('abort', stop);
      connection.abort();
    }
    if (signal.aborted) break;
    const retryInMs = backoffDelay(failures, backoff);
    failures++;
    onState({ kind: 'waiting', attempt: failures, retryInMs, error });
    await sleep(retryInMs, signal);
  }
  return { outcome: 'aborted' };
}

/** A consumer's bug must not look like a network failure (and cause a reconnect loop). */
function deliver(onMessage: (m: SseMessage) => void, message: SseMessage) {
  try {
    onMessage(message);
  } catch (err) {
    console.error('event stream consumer failed', err);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
