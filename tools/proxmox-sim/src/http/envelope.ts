import type { ServerResponse } from 'node:http';
import type { PveError } from './errors';

/** pve-http-server's exact header value; `proxmox-api` compares it literally. */
export const JSON_CONTENT_TYPE = 'application/json;charset=UTF-8';

/**
 * The reason phrase carries the error message, so it must survive as one header-safe line:
 * newlines become spaces and characters outside printable Latin-1 are dropped (Node refuses them).
 */
export function toReasonPhrase(message: string): string {
  return message
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e\xa0-\xff]/g, '')
    .trim();
}

export function sendJson(res: ServerResponse, status: number, reason: string, body: unknown): void {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, toReasonPhrase(reason), {
    'Content-Type': JSON_CONTENT_TYPE,
    'Content-Length': payload.length,
    'Cache-Control': 'max-age=0',
    Pragma: 'no-cache',
    Expires: new Date().toUTCString(),
  });
  res.end(payload);
}

/** Success: `{"data": …}`, plus the extra attributes (`total`) paged lists carry. */
export function sendData(res: ServerResponse, data: unknown, extra: Record<string, unknown> = {}): void {
  sendJson(res, 200, 'OK', { data: data ?? null, ...extra });
}

/**
 * Failures. 401 and 595 go out with an empty body and no content type (pveproxy answers those
 * itself); every other error carries `{"data":null}` with `errors` for 400s and, like newer
 * servers, the message.
 */
export function sendError(res: ServerResponse, error: PveError): void {
  if ((error.status === 401 || error.status === 595) && !error.jsonBody) {
    res.writeHead(error.status, toReasonPhrase(error.message), { 'Content-Length': 0 });
    res.end();
    return;
  }
  if (error.jsonBody) return sendJson(res, error.status, error.message, { data: null });
  const body: Record<string, unknown> = { data: null, message: `${error.message}\n` };
  if (error.errors) body.errors = error.errors;
  sendJson(res, error.status, error.message, body);
}
