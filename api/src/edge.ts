import type { RouteConfig } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './context';
import { ValidationError } from './errors';

/**
 * One rule at the edge, for every route: a string that cannot be stored or passed on as text is
 * a 400 naming where it was, before any schema, service or database sees it. That is a NUL
 * (Postgres refuses it in text, so it used to surface as a 500) or a lone UTF-16 surrogate
 * (not Unicode; drivers would silently turn it into U+FFFD). Lists and objects are bounded too,
 * so no body can make the API walk or store an unbounded collection.
 */

/** Longest list (or object) any request may carry; schemas set tighter bounds per field. */
export const MAX_LIST_ITEMS = 1000;
/** Deepest nesting of a JSON body. */
export const MAX_DEPTH = 32;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why the text is refused, or null when it is fine. */
export function unsafeTextReason(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain NUL characters';
  if (LONE_SURROGATE.test(text)) return 'must be valid Unicode (it has a lone surrogate)';
  return null;
}

export interface UnsafeInput {
  path: string;
  message: string;
}

const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

/**
 * The first place in a JSON value (strings and object keys, at any depth) that breaks the rule,
 * named by its path (`env.KEY`, `payloads[2].data`). Iterative, so a hostile nesting cannot
 * overflow the stack.
 */
export function findUnsafeInput(value: unknown, root = ''): UnsafeInput | null {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: root, depth: 0 }];
  while (stack.length) {
    const item = stack.pop()!;
    const here = item.path || 'body';
    if (typeof item.value === 'string') {
      const reason = unsafeTextReason(item.value);
      if (reason) return { path: here, message: reason };
      continue;
    }
    if (item.value === null || typeof item.value !== 'object') continue;
    if (item.depth >= MAX_DEPTH) return { path: here, message: `is nested more than ${MAX_DEPTH} levels deep` };
    if (Array.isArray(item.value)) {
      if (item.value.length > MAX_LIST_ITEMS) return { path: here, message: `has more than ${MAX_LIST_ITEMS} items` };
      for (let i = item.value.length - 1; i >= 0; i--) stack.push({ value: item.value[i], path: join(item.path, i), depth: item.depth + 1 });
      continue;
    }
    const entries = Object.entries(item.value);
    if (entries.length > MAX_LIST_ITEMS) return { path: here, message: `has more than ${MAX_LIST_ITEMS} keys` };
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i]!;
      const keyReason = unsafeTextReason(key);
      if (keyReason) return { path: join(item.path, JSON.stringify(key).slice(1, -1)), message: `key ${keyReason}` };
      stack.push({ value: child, path: join(item.path, key), depth: item.depth + 1 });
    }
  }
  return null;
}

/** Throws the 400, shaped like a schema failure: `{ code: 'validation_failed', details: { issues } }`. */
export function rejectUnsafe(found: UnsafeInput | null): void {
  if (!found) return;
  throw new ValidationError(`${found.path}: ${found.message}`, { issues: [{ path: found.path, message: found.message }] });
}

/** Header values Keelson reads, stores or echoes; checked once for every request. */
const READ_HEADERS = ['user-agent', 'x-forwarded-for', 'x-request-id', 'last-event-id', 'x-github-delivery', 'x-gitlab-event-uuid', 'x-github-event', 'x-gitlab-event'];

/** For every request under /api: the header values Keelson reads, and every query parameter. */
export const guardRequest = createMiddleware<AppEnv>(async (c, next) => {
  for (const name of READ_HEADERS) {
    const value = c.req.header(name);
    const reason = value === undefined ? null : unsafeTextReason(value);
    if (reason) rejectUnsafe({ path: `header ${name}`, message: reason });
  }
  const query = new URL(c.req.url).searchParams;
  let count = 0;
  for (const [key, value] of query) {
    if (++count > MAX_LIST_ITEMS) rejectUnsafe({ path: 'query', message: `has more than ${MAX_LIST_ITEMS} parameters` });
    const keyReason = unsafeTextReason(key);
    if (keyReason) rejectUnsafe({ path: 'query', message: `parameter name ${keyReason}` });
    const reason = unsafeTextReason(value);
    if (reason) rejectUnsafe({ path: key, message: reason });
  }
  return next();
});

const isJson = (contentType: string | undefined) => /^application\/([\w.+-]+\+)?json\b/i.test(contentType ?? '');

/**
 * For each typed route (added by `createRouter`): its path parameters by name, and its JSON body
 * when it declares one. Runs after the route's own middleware (authentication, permissions), so
 * a caller who may not call the route learns nothing new, and before its schemas.
 */
export function guardRoute(route: RouteConfig) {
  const takesJson = Object.keys(route.request?.body?.content ?? {}).some((type) => isJson(type));
  return createMiddleware<AppEnv>(async (c, next) => {
    for (const [name, value] of Object.entries(c.req.param() as Record<string, string>)) {
      const reason = unsafeTextReason(value);
      if (reason) rejectUnsafe({ path: name, message: reason });
    }
    if (takesJson && isJson(c.req.header('content-type'))) {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return next(); // malformed JSON: the route's validator answers its usual 400
      }
      rejectUnsafe(findUnsafeInput(body));
    }
    return next();
  });
}
