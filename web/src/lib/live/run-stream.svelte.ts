import type { ApiError } from '$lib/api/request';
import type { HistoryBatch, RunEnd, RunLogChunk, RunStatus, RunStep, StepsSnapshot } from '$lib/api/types';
import { runStreamUrl } from '$lib/services/runs-service';
import { DEFAULT_BACKOFF, followEventStream, type BackoffOptions } from './event-stream';
import type { SseMessage } from './sse';

export interface RunStreamOptions {
  /** Output chunks, in order, each exactly once (the terminal writes them). */
  onLog?: (chunk: RunLogChunk) => void;
  /** The run closed and its output is drained. */
  onEnd?: (end: RunEnd) => void;
  /** The stream cannot go on (401, 403, 404): retrying would not help. */
  onFailed?: (error: ApiError) => void;
  backoff?: BackoffOptions;
}

/** History events that close a run, and the status each means. */
const CLOSING_EVENTS: Record<string, RunStatus> = {
  WorkflowExecutionCompleted: 'Completed',
  WorkflowExecutionFailed: 'Failed',
  WorkflowExecutionCanceled: 'Canceled',
  WorkflowExecutionTerminated: 'Terminated',
  WorkflowExecutionTimedOut: 'TimedOut',
  WorkflowExecutionContinuedAsNew: 'ContinuedAsNew',
};

/** `<historyId>-<logId>` → its parts. */
function parseCursor(id: string): { history: number; log: number } {
  const m = /^(\d+)-(\d+)$/.exec(id);
  return m ? { history: Number(m[1]), log: Number(m[2]) } : { history: 0, log: 0 };
}

/**
 * Follows one run live: its steps, status and output, from `GET /api/runs/{id}/stream`.
 * Call during component setup: it connects when the component mounts, and on teardown aborts the
 * request and stops reconnecting. Reconnects resume from the last event id with capped backoff;
 * `connected` and `retryInMs` let the view say "disconnected — reconnecting".
 */
export function createRunStream(workflowId: string, options: RunStreamOptions = {}) {
  const state = $state({
    /** Null until the stream's first `steps` event; then the live list. */
    steps: null as RunStep[] | null,
    /** Null while the stream has not said; then the run's status as the stream sees it. */
    status: null as RunStatus | null,
    connected: false,
    /** Set while waiting to reconnect. */
    retryInMs: null as number | null,
    /** Failed attempts in a row. */
    attempt: 0,
    ended: false,
    /** Why the stream stopped for good, if it did. */
    failure: null as ApiError | null,
  });

  let controller: AbortController | null = null;
  let lastEventId = '';
  let lastLogId = 0;

  // The server reads output and history side by side, so the first output can arrive before the
  // steps that name its activity. Hold it (briefly) until the first `steps` event: the terminal
  // can then label it with the step's name.
  const HOLD_OUTPUT_MS = 1500;
  let held: RunLogChunk[] | null = [];
  let holdTimer: ReturnType<typeof setTimeout> | undefined;
  function releaseOutput() {
    clearTimeout(holdTimer);
    const chunks = held ?? [];
    held = null;
    for (const c of chunks) options.onLog?.(c);
  }
  function deliverLog(chunk: RunLogChunk) {
    if (!held) return options.onLog?.(chunk);
    held.push(chunk);
    holdTimer ??= setTimeout(releaseOutput, HOLD_OUTPUT_MS);
  }

  function handle(message: SseMessage) {
    lastEventId = message.id || lastEventId;
    switch (message.event) {
      case 'log': {
        const chunk = JSON.parse(message.data) as RunLogChunk;
        // The server resumes after the cursor; this only guards against a server that does not.
        if (chunk.id <= lastLogId) return;
        lastLogId = chunk.id;
        deliverLog(chunk);
        break;
      }
      case 'steps':
        state.steps = (JSON.parse(message.data) as StepsSnapshot).steps;
        releaseOutput();
        break;
      case 'history': {
        const { events } = JSON.parse(message.data) as HistoryBatch;
        for (const e of events) {
          const closed = CLOSING_EVENTS[e.eventType];
          if (closed) state.status = closed;
          else if (state.status === null) state.status = 'Running';
        }
        break;
      }
      case 'end': {
        const end = JSON.parse(message.data) as RunEnd;
        releaseOutput();
        state.status = end.status;
        state.ended = true;
        options.onEnd?.(end);
        break;
      }
      case 'error':
        // The server failed mid-stream; it closes the connection next and we reconnect.
        break;
    }
  }

  function connect() {
    controller?.abort();
    const current = new AbortController();
    controller = current;
    state.ended = false;
    state.failure = null;
    void followEventStream({
      url: runStreamUrl(workflowId),
      lastEventId,
      signal: current.signal,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      onMessage: handle,
      isFinal: (m) => m.event === 'end',
      onState: (s) => {
        if (current.signal.aborted) return;
        state.connected = s.kind === 'open';
        state.retryInMs = s.kind === 'waiting' ? s.retryInMs : null;
        state.attempt = s.kind === 'open' ? 0 : s.attempt;
      },
    }).then((result) => {
      if (controller !== current) return;
      state.connected = false;
      state.retryInMs = null;
      if (result.outcome === 'failed') {
        state.failure = result.error;
        options.onFailed?.(result.error);
      }
    });
  }

  $effect(() => {
    connect();
    return () => {
      controller?.abort();
      controller = null;
      clearTimeout(holdTimer);
    };
  });

  return {
    get steps() {
      return state.steps;
    },
    get status() {
      return state.status;
    },
    get connected() {
      return state.connected;
    },
    get retryInMs() {
      return state.retryInMs;
    },
    get attempt() {
      return state.attempt;
    },
    get ended() {
      return state.ended;
    },
    get failure() {
      return state.failure;
    },
    /**
     * Follows the run again after it was reset (retry): its history is read anew, the output
     * continues after the last chunk already shown.
     */
    restart() {
      lastEventId = `0-${Math.max(lastLogId, parseCursor(lastEventId).log)}`;
      state.status = 'Running';
      connect();
    },
  };
}

export type RunStream = ReturnType<typeof createRunStream>;
