/**
 * Errors the API handlers throw. Proxmox reports every failure through the HTTP status and the
 * reason phrase (clients such as `proxmox-api` and the bpg provider read the message from there),
 * so an error here is exactly a status, a one-line message and, for 400s, per-parameter reasons.
 */
export class PveError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Per-parameter reasons, sent as `errors` in the body (400 only). */
    readonly errors?: Record<string, string>,
    /** A 401 that still carries `{"data":null}` (a refused login, unlike a refused request). */
    readonly jsonBody = false,
  ) {
    super(message);
    this.name = 'PveError';
  }
}

/** 400 `Parameter verification failed.` with one reason per offending parameter. */
export function paramError(errors: Record<string, string>): PveError {
  return new PveError(400, 'Parameter verification failed.', errors);
}

/** 500 with the raw message, the way pvedaemon reports a `die` inside an API handler. */
export function serverError(message: string): PveError {
  return new PveError(500, message);
}

export function permissionError(path: string, privilege: string): PveError {
  return new PveError(403, `Permission check failed (${path}, ${privilege})`);
}

/** 401 — sent with an empty body, like pveproxy. */
export function authError(message: string): PveError {
  return new PveError(401, message);
}

export function notImplemented(method: string, path: string): PveError {
  return new PveError(501, `Method '${method} ${path}' not implemented`);
}
