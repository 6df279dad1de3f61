/**
 * The one way the web app calls the API. Same origin (the web server proxies /api to the API),
 * so the session cookie travels by itself; state-changing calls add the session's CSRF token.
 * Errors come back as a typed `ApiError` carrying the API's `{ code, message, requestId,
 * details.issues }`.
 *
 * Kept free of SvelteKit and Svelte imports so that Node tests can load it.
 */

export type Fetch = typeof fetch;

/** One field the API rejected, `path` dotted (`ports.0.host`), empty for the whole body. */
export interface FieldIssue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null = null,
    readonly issues: FieldIssue[] = [],
    /** The rest of the API's `details` (e.g. the invitations of an `invitation_pending`). */
    readonly details: unknown = undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The message for one field (`issueFor('email')`), for showing it beside its input. */
  issueFor(path: string): string | undefined {
    return this.issues.find((i) => i.path === path)?.message;
  }
}

/** Turns a failed response into an ApiError, whether or not its body is the API's JSON. */
export async function readApiError(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
    const b = body as { code?: unknown; message: string; requestId?: unknown; details?: { issues?: unknown } };
    const issues = Array.isArray(b.details?.issues)
      ? (b.details.issues as unknown[]).filter(isIssue).map((i) => ({ path: i.path, message: i.message }))
      : [];
    return new ApiError(res.status, typeof b.code === 'string' ? b.code : 'error', b.message, typeof b.requestId === 'string' ? b.requestId : null, issues, b.details);
  }
  const fallback = res.status === 502 || res.status === 503 || res.status === 504 ? 'the API is not reachable' : `request failed (${res.status})`;
  return new ApiError(res.status, 'http_error', text && text.length < 200 && !text.startsWith('<') ? text : fallback, res.headers.get('x-request-id'));
}

const isIssue = (v: unknown): v is FieldIssue =>
  !!v && typeof v === 'object' && typeof (v as FieldIssue).path === 'string' && typeof (v as FieldIssue).message === 'string';

let csrfToken: string | null = null;

/** Set from the login and /me responses; cleared on sign-out. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export const CSRF_HEADER = 'X-CSRF-Token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Query parameters; undefined, null and empty values are left out. */
  query?: Record<string, string | number | undefined | null>;
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

/** Builds `/api/<path>?<query>`; `path` segments must already be encoded by the caller. */
export function apiUrl(path: string, query?: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return `/api${path}${qs ? `?${qs}` : ''}`;
}

/** The headers every state-changing call needs; exported for callers that stream. */
export function requestHeaders(method: string, json: boolean): Headers {
  const headers = new Headers({ accept: 'application/json' });
  if (json) headers.set('content-type', 'application/json');
  if (!SAFE_METHODS.has(method) && csrfToken) headers.set(CSRF_HEADER, csrfToken);
  return headers;
}

/**
 * Calls the API and returns its parsed JSON (undefined for 204). Throws ApiError for any non-2xx
 * answer, and ApiError with status 0 (`network_error`) when the server cannot be reached.
 */
export async function request<T>(fetchFn: Fetch, path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const hasBody = options.body !== undefined;
  let res: Response;
  try {
    res = await fetchFn(apiUrl(path, options.query), {
      method,
      headers: requestHeaders(method, hasBody),
      body: hasBody ? JSON.stringify(options.body) : undefined,
      credentials: 'same-origin',
      signal: options.signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'cannot reach the server; check your connection');
  }
  if (!res.ok) throw await readApiError(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}
