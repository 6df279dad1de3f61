import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isDatabaseUnavailable } from '@keelson/db';
import type { z } from 'zod';

/** The errors services throw; `onError` maps each to `{ code, message, requestId }`. */
export class AppError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}
export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super(400, 'validation_failed', message, details);
  }
}
export class UnauthorizedError extends AppError {
  constructor(message = 'authentication required') {
    super(401, 'unauthorized', message);
  }
}
export class ForbiddenError extends AppError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}
export class NotFoundError extends AppError {
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`);
  }
}
export class ConflictError extends AppError {
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}
export class PayloadTooLargeError extends AppError {
  constructor(message = 'request body is too large') {
    super(413, 'payload_too_large', message);
  }
}
export class TooManyRequestsError extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, 'rate_limited', `too many requests; retry in ${retryAfterSeconds}s`);
  }
}

/** A service Keelson depends on (Postgres, Temporal) does not answer for the moment. */
export class ServiceUnavailableError extends AppError {
  constructor(
    readonly service: 'database' | 'temporal',
    readonly retryAfterSeconds = 2,
  ) {
    super(503, 'unavailable', `the ${service} is not reachable right now; retry in a few seconds`);
  }
}

/** gRPC status of a Temporal server that is not reachable (UNAVAILABLE). */
const GRPC_UNAVAILABLE = 14;

/**
 * Which dependency an unexpected error says is down, if any: Postgres refusing or dropping
 * connections (shutting down, starting up), or Temporal's gRPC UNAVAILABLE (its client wraps
 * gRPC's error in `cause`).
 */
export function unavailableService(err: unknown): ServiceUnavailableError['service'] | undefined {
  let e = err as { code?: unknown; cause?: unknown; metadata?: unknown } | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 6; depth++, e = e.cause as typeof e) {
    if (e.code === GRPC_UNAVAILABLE && 'metadata' in e) return 'temporal';
  }
  return isDatabaseUnavailable(err) ? 'database' : undefined;
}

/** The first `code` along an error's `cause` chain (ECONNREFUSED, 57P01, a gRPC status). */
function errorCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 6; depth++, e = e.cause as typeof e) if (e.code !== undefined) return String(e.code);
  return undefined;
}

export interface ErrorBody {
  code: string;
  message: string;
  requestId: string;
  details?: unknown;
}

export function errorBody(c: Context, code: string, message: string, details?: unknown): ErrorBody {
  return { code, message, requestId: c.get('requestId') ?? '', ...(details === undefined ? {} : { details }) };
}

/** Formats zod failures as one 400 naming each field (used as the OpenAPI default hook). */
export function validationHook(
  result: { success: true } | { success: false; error: z.ZodError },
  c: Context,
): Response | undefined {
  if (result.success) return undefined;
  const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const message = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  return c.json(errorBody(c, 'validation_failed', message, { issues }), 400);
}

export function onError(err: Error, c: Context): Response {
  if (err instanceof TooManyRequestsError || err instanceof ServiceUnavailableError) c.header('Retry-After', String(err.retryAfterSeconds));
  if (err instanceof AppError) return c.json(errorBody(c, err.code, err.message, err.details), err.status);
  if (err instanceof HTTPException) {
    const status = err.status;
    const code = status === 413 ? 'payload_too_large' : status === 400 ? 'bad_request' : 'http_error';
    return c.json(errorBody(c, code, err.message || 'request failed'), status as ContentfulStatusCode);
  }
  if (err instanceof SyntaxError) return c.json(errorBody(c, 'bad_request', `malformed JSON body: ${err.message}`), 400);
  const down = unavailableService(err);
  if (down) {
    const unavailable = new ServiceUnavailableError(down);
    // The driver's message would carry the failed query and its parameters: only its code is logged.
    console.warn(JSON.stringify({ level: 'warn', msg: `${down} unavailable`, requestId: c.get('requestId'), code: errorCode(err) }));
    c.header('Retry-After', String(unavailable.retryAfterSeconds));
    return c.json(errorBody(c, unavailable.code, unavailable.message), 503);
  }
  console.error(JSON.stringify({ level: 'error', msg: 'unhandled error', requestId: c.get('requestId'), error: err.stack ?? String(err) }));
  return c.json(errorBody(c, 'internal', 'internal error'), 500);
}
