/**
 * The browser's end of a container terminal: `GET /api/containers/{id}/terminal` as a WebSocket
 * (same origin; the web server relays it to the API, so the session cookie goes along and the
 * API checks `Origin`).
 *
 * Protocol: keystrokes go out as binary frames, the terminal's size as a text frame
 * `{"type":"resize","cols":N,"rows":M}`; output comes back as binary frames, and text frames are
 * JSON control messages (`{"type":"error","message":…}`).
 *
 * It does not reconnect by itself: a new connection is a new shell (whatever ran in the old one
 * is gone), so the person decides. Imports nothing from SvelteKit, so Node tests run it.
 */

/** Where the connection stands; `reason` says why it ended, for people. */
export type TerminalStatus =
  | { kind: 'connecting' }
  | { kind: 'connected' }
  | { kind: 'disconnected'; code: number; reason: string };

/** The part of the WebSocket API this uses (the browser's, or `ws` in Node tests). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export interface TerminalSocketOptions {
  /** From `terminalUrl()`. */
  url: string;
  /** Output bytes (UTF-8, possibly split mid-character: xterm's `write` copes). */
  onData: (data: Uint8Array) => void;
  onStatus?: (status: TerminalStatus) => void;
  /** JSON control messages from the server, e.g. `{ type: 'error', message }`. */
  onControl?: (message: { type: string; message?: string }) => void;
  /** For tests in Node; the browser's WebSocket otherwise. */
  createSocket?: (url: string) => SocketLike;
}

/** Limits the API enforces on a resize. */
const MAX_CELLS = 1000;
const OPEN = 1;

/** `ws(s)://<host>/api/containers/<id>/terminal[?shell=…]`, from the page's own location. */
export function terminalUrl(location: { protocol: string; host: string }, containerId: string, shell?: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = shell ? `?shell=${encodeURIComponent(shell)}` : '';
  return `${scheme}//${location.host}/api/containers/${encodeURIComponent(containerId)}/terminal${query}`;
}

/** Why a socket closed, in words (the browser only says 1006 when the handshake was refused). */
export function describeClose(code: number, reason: string, everOpened: boolean): string {
  if (reason) return reason;
  if (!everOpened) return 'could not connect: the container may not be running, or you may not open a terminal on it';
  if (code === 1006) return 'the connection was lost';
  if (code === 1001) return 'the server is restarting';
  return `closed (${code})`;
}

/**
 * Opens the socket at once. `send` passes keystrokes, `resize` the size in cells (sent when it
 * changes, and again on open), `close` ends the session (the API then ends the shell).
 */
export function openTerminalSocket(options: TerminalSocketOptions) {
  const encoder = new TextEncoder();
  const socket = (options.createSocket ?? ((url) => new WebSocket(url) as unknown as SocketLike))(options.url);
  socket.binaryType = 'arraybuffer';
  let status: TerminalStatus = { kind: 'connecting' };
  let everOpened = false;
  let closedByUs = false;
  let size: { cols: number; rows: number } | null = null;
  let sentSize = '';

  function setStatus(next: TerminalStatus) {
    status = next;
    options.onStatus?.(next);
  }
  function sendSize() {
    if (!size || socket.readyState !== OPEN) return;
    const frame = JSON.stringify({ type: 'resize', cols: size.cols, rows: size.rows });
    if (frame === sentSize) return;
    sentSize = frame;
    socket.send(frame);
  }

  socket.onopen = () => {
    everOpened = true;
    setStatus({ kind: 'connected' });
    sendSize();
  };
  socket.onmessage = (event) => {
    if (closedByUs) return;
    if (typeof event.data === 'string') {
      try {
        options.onControl?.(JSON.parse(event.data) as { type: string; message?: string });
      } catch {
        // Not a control message: show it as output rather than drop it.
        options.onData(encoder.encode(event.data));
      }
      return;
    }
    if (event.data instanceof ArrayBuffer) options.onData(new Uint8Array(event.data));
    else if (ArrayBuffer.isView(event.data)) options.onData(new Uint8Array(event.data.buffer, event.data.byteOffset, event.data.byteLength));
  };
  socket.onerror = () => {
    // A close event follows with the code; nothing to add here.
  };
  socket.onclose = (event) => {
    socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    setStatus({ kind: 'disconnected', code: event.code, reason: closedByUs ? 'closed' : describeClose(event.code, event.reason, everOpened) });
  };

  return {
    get status() {
      return status;
    },
    /** Keystrokes (a string from xterm's `onData`) or raw bytes (`onBinary`). */
    send(data: string | Uint8Array) {
      if (socket.readyState !== OPEN) return;
      socket.send(typeof data === 'string' ? encoder.encode(data) : data);
    },
    /** The terminal's size in character cells; ignored when not a sane size. */
    resize(cols: number, rows: number) {
      if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1) return;
      size = { cols: Math.min(cols, MAX_CELLS), rows: Math.min(rows, MAX_CELLS) };
      sendSize();
    },
    /** Ends the session; no more callbacks but the final `disconnected` status. */
    close() {
      if (status.kind === 'disconnected') return;
      closedByUs = true;
      socket.close(1000, 'closed by the user');
    },
  };
}

export type TerminalSocket = ReturnType<typeof openTerminalSocket>;

/** Bytes for xterm's `onBinary` strings (each character one byte, as xterm documents). */
export function binaryStringToBytes(data: string): Uint8Array {
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
  return bytes;
}
