import { ApplicationFailure } from '@temporalio/activity';
import type { ProxmoxFailureType } from './types';

/**
 * The one place where Proxmox errors become typed failures.
 *
 * `proxmox-api` throws plain Errors whose message holds method, URL, status and PVE's reason
 * phrase (which carries PVE's actual message), e.g.
 *   `POST https://…/clone return Error 500 VM is locked (clone): {"data":null}`
 *   `PUT https://…/config return Error 400 Parameter verification failed.: {"data":null,"errors":{"memory":"…"}}`
 *   `GET https://…/status connection failed with 595 No route to host return: {…}`
 *   `FaILED to call POST https://… cause by:connect ECONNREFUSED`
 * Task exit statuses (`TASK ERROR: …`) go through {@link taskFailure}.
 */

/** What a failed Proxmox call said, parsed from the client's error message. */
export interface ProxmoxErrorInfo {
  method?: string;
  path?: string;
  /** HTTP status; undefined when no answer arrived (network error). */
  status?: number;
  /** PVE's message (the reason phrase), or the network error text. */
  reason: string;
  /** Per-parameter complaints of a 400. */
  paramErrors?: Record<string, string>;
}

const replyPattern = /^(GET|POST|PUT|DELETE) (\S+) (?:return Error|connection failed with) (\d{3}) (.*?)(?:: | return: )(\{.*\}|\S*)?$/s;
const networkPattern = /^FaILED to call (GET|POST|PUT|DELETE) (\S+)(?: cause by:(.*))?$/s;

/** Parses a `proxmox-api` error; anything else (a bug, a timeout of ours) keeps its message as reason. */
export function parseProxmoxError(err: unknown): ProxmoxErrorInfo {
  const message = err instanceof Error ? err.message : String(err);
  const reply = replyPattern.exec(message);
  if (reply) {
    const [, method, url, status, reason, body] = reply;
    let paramErrors: Record<string, string> | undefined;
    try {
      const parsed = body ? (JSON.parse(body) as { errors?: unknown }) : undefined;
      if (parsed && typeof parsed.errors === 'object' && parsed.errors !== null) paramErrors = parsed.errors as Record<string, string>;
    } catch {
      // a body that is not JSON carries nothing the reason phrase does not
    }
    return { method, path: pathOf(url!), status: Number(status), reason: reason!.trim(), paramErrors };
  }
  const network = networkPattern.exec(message);
  if (network) {
    const cause = (err as { cause?: { cause?: { message?: string }; message?: string } }).cause;
    const detail = network[3]?.trim() || cause?.cause?.message || cause?.message || 'no answer';
    return { method: network[1], path: pathOf(network[2]!), reason: detail };
  }
  return { reason: message };
}

function pathOf(url: string): string {
  try {
    const parsed = new URL(url);
    return decodeURIComponent(parsed.pathname.replace(/^\/api2\/json/, ''));
  } catch {
    return url;
  }
}

/** Messages that mean "someone else holds the guest right now": wait and try again. */
const LOCK_MESSAGES = [
  /\bis locked\b/i, // `VM is locked (clone)`, `CT is locked (backup)`
  /can't lock file .* got timeout/i,
  /got timeout/i,
  /checksum mismatch/i,
  /detected modified configuration/i,
  /unexpected status/i, // a task whose worker vanished (node restart)
];

export function isLockMessage(message: string): boolean {
  return LOCK_MESSAGES.some((pattern) => pattern.test(message));
}

export const isAlreadyExists = (info: ProxmoxErrorInfo) => info.status === 500 && /already exists/i.test(info.reason);
export const isMissing = (info: ProxmoxErrorInfo) =>
  info.status === 500 && /does not exist|no such (vm|ct|guest)|not found/i.test(info.reason);

function failure(type: ProxmoxFailureType, message: string, retryable: boolean, details: ProxmoxErrorInfo): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: !retryable, details: [details] });
}

/**
 * Maps a failed call to a typed failure. `action` says what was being done, in words an operator
 * reads in the run (`clone template 9000 to VM 104`).
 */
export function toProxmoxFailure(err: unknown, action: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const info = parseProxmoxError(err);
  const where = info.method ? ` (${info.method} ${info.path}${info.status ? ` → ${info.status}` : ''})` : '';
  const say = (text: string) => `${action}: ${text}${where}`;

  if (info.status === undefined) {
    // No answer: a network problem, or our own bug. Both deserve another attempt with backoff.
    return failure('ProxmoxUnreachable', say(`no answer from Proxmox: ${info.reason}`), true, info);
  }
  if (info.status === 400) {
    // PVE's format errors end with a newline (the validator's `die` message); one line per field here.
    const fields = Object.entries(info.paramErrors ?? {}).map(([field, why]) => `${field}: ${why.trim()}`);
    return failure('ProxmoxInvalidParameters', say(`Proxmox rejected the parameters${fields.length ? ` — ${fields.join('; ')}` : ` — ${info.reason}`}`), false, info);
  }
  if (info.status === 401) return failure('ProxmoxAuthFailed', say(`the API token was refused (${info.reason || 'authentication failed'})`), false, info);
  if (info.status === 403) return failure('ProxmoxPermissionDenied', say(info.reason || 'permission denied'), false, info);
  if (info.status === 501) return failure('ProxmoxInvalidParameters', say(`Proxmox does not implement this call (${info.reason})`), false, info);
  if (info.status === 595 || info.status === 596 || info.status === 502 || info.status === 503 || info.status === 504) {
    return failure('ProxmoxUnreachable', say(`node unreachable (${info.status} ${info.reason})`), true, info);
  }
  if (isLockMessage(info.reason)) return failure('ProxmoxLocked', say(info.reason), true, info);
  if (isMissing(info)) return failure('GuestNotFound', say(info.reason), false, info);
  if (/not enough|insufficient|out of space|no space left/i.test(info.reason)) return failure('NoCapacity', say(info.reason), false, info);
  // Other 5xx: PVE reports most conditions as 500; some are passing (a storage busy), so a few
  // attempts with backoff are cheaper than failing a provision on the first one.
  return failure('ProxmoxServerError', say(info.reason), true, info);
}

/**
 * A task that stopped with an exit status other than `OK` / `WARNINGS: n`. Lock timeouts and
 * vanished workers are retryable; everything else the task said is final.
 */
export function taskFailure(action: string, upid: string, exitstatus: string): ApplicationFailure {
  const info: ProxmoxErrorInfo = { reason: exitstatus, path: upid };
  if (isLockMessage(exitstatus)) return failure('ProxmoxLocked', `${action}: task failed: ${exitstatus}`, true, info);
  return failure('ProxmoxTaskFailed', `${action}: task failed: ${exitstatus}`, false, info);
}

export function isTaskSuccess(exitstatus: string | undefined): boolean {
  return exitstatus === 'OK' || /^WARNINGS: \d+$/.test(exitstatus ?? '');
}
