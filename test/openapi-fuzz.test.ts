import RandExp from 'randexp';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type SignedIn, type TestPlatform } from './platform';

/**
 * Malformed input against every operation the API describes in /api/openapi.json, so a route
 * added anywhere (by any branch) is covered the moment it is registered: each path parameter,
 * query parameter and JSON body field gets NUL bytes, lone surrogates, wrong types, huge values
 * and oversized lists. Nothing may answer 5xx, and NUL / lone surrogates / oversized lists must be
 * a 400 that names the field. A route that is served but missing from the document fails too.
 */

type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: boolean | Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  default?: unknown;
  example?: unknown;
};
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}
interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

const NUL = 'a\u0000b';
const SURROGATE = 'x\ud800y';
const HUGE = 'x'.repeat(200_000);
/** Routes that are not operations: the document itself, its browsable page, health, the catch-all. */
const NOT_OPERATIONS = new Set(['GET /api/openapi.json', 'GET /api/docs', 'GET /api/health']);

describe('malformed input on every operation of /api/openapi.json', () => {
  let p: TestPlatform;
  let owner: SignedIn;
  let doc: OpenApiDoc;

  beforeAll(async () => {
    p = await createTestPlatform();
    const tenant = await p.createTenant();
    owner = await p.signIn({ tenantId: tenant.id, role: 'owner' });
    const res = await p.request('/api/openapi.json');
    expect(res.status).toBe(200);
    doc = (await res.json()) as OpenApiDoc;
  });
  afterAll(() => p.close());

  const resolve = (schema: Schema | undefined): Schema => {
    let s = schema ?? {};
    for (let i = 0; s.$ref && i < 20; i++) s = doc.components?.schemas?.[s.$ref.replace('#/components/schemas/', '')] ?? {};
    if (s.allOf?.length) return Object.assign({}, ...s.allOf.map(resolve)) as Schema;
    return s;
  };

  /** A value the schema would accept, as far as a small generator can tell (every property present). */
  function sample(schema: Schema | undefined, depth = 0): unknown {
    const s = resolve(schema);
    if (s.const !== undefined) return s.const;
    if (s.example !== undefined) return s.example;
    if (s.default !== undefined) return s.default;
    if (s.enum?.length) return s.enum[0];
    const alternatives = s.anyOf ?? s.oneOf;
    if (alternatives?.length) return sample(alternatives.find((a) => resolve(a).type !== 'null') ?? alternatives[0], depth);
    const type = Array.isArray(s.type) ? (s.type.find((t) => t !== 'null') ?? 'null') : s.type;
    if (depth > 6) return null;
    switch (type) {
      case 'object': {
        const out: Record<string, unknown> = {};
        for (const [key, prop] of Object.entries(s.properties ?? {})) out[key] = sample(prop, depth + 1);
        if (!s.properties && typeof s.additionalProperties === 'object') out.KEY = sample(s.additionalProperties, depth + 1);
        return out;
      }
      case 'array':
        return Array.from({ length: Math.max(1, s.minItems ?? 0) }, () => sample(s.items, depth + 1));
      case 'integer':
      case 'number':
        return s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1);
      case 'boolean':
        return false;
      case 'null':
        return null;
      case 'string':
        return sampleString(s);
      default:
        return s.properties ? sample({ ...s, type: 'object' }, depth) : 'x';
    }
  }

  function sampleString(s: Schema): string {
    switch (s.format) {
      case 'uuid':
        return randomUUID();
      case 'email':
        return `fuzz-${randomUUID().slice(0, 8)}@example.test`;
      case 'date-time':
        return new Date(Date.now() + 86_400_000).toISOString();
      case 'uri':
      case 'url':
        return 'https://127.0.0.1:1/';
    }
    if (s.pattern) {
      try {
        const gen = new RandExp(s.pattern);
        gen.max = 3;
        const value = gen.gen();
        if (value.length >= (s.minLength ?? 0) && value.length <= (s.maxLength ?? Infinity)) return value;
      } catch {
        // a pattern randexp cannot read: fall through
      }
    }
    return 'x'.repeat(Math.max(1, Math.min(s.minLength ?? 1, 64)));
  }

  /** Every leaf of a sampled value with its path as the API names fields (`a.b[0].c`). */
  function leaves(value: unknown, path = ''): Array<{ path: string; value: unknown }> {
    if (Array.isArray(value)) return [{ path, value }, ...value.flatMap((v, i) => leaves(v, `${path}[${i}]`))];
    if (value && typeof value === 'object') {
      return [{ path, value }, ...Object.entries(value).flatMap(([k, v]) => leaves(v, path ? `${path}.${k}` : k))];
    }
    return [{ path, value }];
  }

  function setAt(root: unknown, path: string, replacement: unknown): unknown {
    if (!path) return replacement;
    const copy = structuredClone(root) as Record<string, unknown>;
    const keys = path.match(/[^.[\]]+/g)!.map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    let node: Record<string | number, unknown> = copy;
    for (const key of keys.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
    node[keys.at(-1)!] = replacement;
    return copy;
  }

  interface Case {
    label: string;
    path: string;
    query?: string;
    body?: string;
    /** When set, the answer must be a 400 whose message names this field. */
    names?: string;
  }

  it('answers 4xx (never 5xx), and a 400 naming the field for NUL, lone surrogates and oversized lists', { timeout: 600_000 }, async () => {
    const problems: string[] = [];
    let operations = 0;
    let requests = 0;

    for (const [template, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (NOT_OPERATIONS.has(`${method.toUpperCase()} ${template}`)) continue;
        operations++;
        const params = op.parameters ?? [];
        const pathValues = Object.fromEntries(params.filter((x) => x.in === 'path').map((x) => [x.name, encodeURIComponent(String(sample(x.schema)))]));
        const pathWith = (overrides: Record<string, string> = {}) =>
          template.replace(/\{(\w+)\}/g, (_, name: string) => overrides[name] ?? pathValues[name] ?? 'x');
        const baseQuery = new URLSearchParams();
        for (const q of params.filter((x) => x.in === 'query' && x.required)) baseQuery.set(q.name, String(sample(q.schema)));
        const bodySchema = op.requestBody?.content?.['application/json']?.schema;
        const body = bodySchema ? sample(bodySchema) : undefined;
        const json = (v: unknown) => JSON.stringify(v);

        const cases: Case[] = [{ label: 'baseline', path: pathWith(), query: baseQuery.toString(), body: body === undefined ? undefined : json(body) }];
        for (const param of params.filter((x) => x.in === 'path')) {
          cases.push({ label: `path ${param.name} NUL`, path: pathWith({ [param.name]: encodeURIComponent(NUL) }), names: param.name });
          for (const bad of ['%ED%A0%80', 'x'.repeat(5000), '..%2F..%2Fetc', '%25', '-1', '1e999']) cases.push({ label: `path ${param.name} ${bad.slice(0, 12)}`, path: pathWith({ [param.name]: bad }) });
        }
        for (const param of params.filter((x) => x.in === 'query')) {
          const q = (value: string) => {
            const query = new URLSearchParams(baseQuery);
            query.set(param.name, value);
            return query.toString();
          };
          cases.push({ label: `query ${param.name} NUL`, path: pathWith(), query: q(NUL), names: param.name });
          for (const bad of ['', HUGE.slice(0, 10_000), '-1', '99999999999999999999', 'null', '[]', '2999-99-99T00:00:00Z']) cases.push({ label: `query ${param.name} ${bad.slice(0, 12)}`, path: pathWith(), query: q(bad) });
        }
        cases.push({ label: 'unknown query NUL', path: pathWith(), query: `${baseQuery}&zz=${encodeURIComponent(NUL)}`, names: 'zz' });
        if (body !== undefined) {
          for (const leaf of leaves(body)) {
            const at = (v: unknown) => json(setAt(body, leaf.path, v));
            const field = leaf.path || 'body';
            if (leaf.path) {
              cases.push({ label: `body ${field} NUL`, path: pathWith(), body: at(NUL), names: field });
              cases.push({ label: `body ${field} surrogate`, path: pathWith(), body: at(SURROGATE), names: field });
            }
            for (const wrong of [HUGE, -1, 1e308, 2 ** 53 + 1, 0.5, true, null, {}, [], '']) cases.push({ label: `body ${field} ${json(wrong)?.slice(0, 12)}`, path: pathWith(), body: at(wrong) });
            cases.push({ label: `body ${field} 2000 items`, path: pathWith(), body: at(Array.from({ length: 2000 }, () => leaf.value ?? 'x')), names: field });
            if (leaf.value && typeof leaf.value === 'object' && !Array.isArray(leaf.value)) {
              cases.push({ label: `body ${field} NUL key`, path: pathWith(), body: at({ ...leaf.value, 'k\u0000': 'v' }), names: leaf.path ? `${leaf.path}.k` : 'k' });
            }
          }
          let nested: unknown = 'x';
          for (let i = 0; i < 200; i++) nested = [nested];
          for (const raw of ['not json', '{', 'null', '[]', '"x"', '1', json(nested), json({ ...(body as object), extra: NUL })]) cases.push({ label: `body raw ${raw.slice(0, 12)}`, path: pathWith(), body: raw });
        }

        for (const c of cases) {
          const headers = { ...owner.headers, ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}) };
          const url = `${c.path}${c.query ? `?${c.query}` : ''}`;
          // Signing out would end the session the other requests use: sign out a throwaway one.
          const as = template === '/api/auth/logout' ? (await p.signIn({ tenantId: owner.tenantId, role: 'owner' })).headers : headers;
          const res = await p.app.request(url, { method: method.toUpperCase(), headers: { ...as, ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: c.body });
          requests++;
          const text = await res.text();
          const where = `${method.toUpperCase()} ${template} [${c.label}]`;
          if (res.status >= 500) problems.push(`${where}: ${res.status} ${text.slice(0, 200)}`);
          else if (c.names !== undefined) {
            let message = '';
            try {
              message = (JSON.parse(text) as { message?: string }).message ?? '';
            } catch {
              message = text;
            }
            // A route's own guards (sign-in, permission, a WebSocket's Origin) answer first by design.
            if (res.status === 401 || res.status === 403) continue;
            if (res.status !== 400 || !message.includes(c.names)) problems.push(`${where}: expected a 400 naming ${JSON.stringify(c.names)}, got ${res.status} ${text.slice(0, 200)}`);
          }
        }
      }
    }

    expect(problems).toEqual([]);
    // The document really lists the API (and this test really sent something to each operation).
    expect(operations).toBeGreaterThan(40);
    expect(requests).toBeGreaterThan(operations * 5);
  });

  it('documents every route the API serves, so none escapes the test above', () => {
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`)),
    );
    const served = new Set(
      p.app.routes
        .filter((r) => r.method !== 'ALL' && r.path.startsWith('/api/'))
        .map((r) => `${r.method} ${r.path}`)
        .filter((r) => !NOT_OPERATIONS.has(r)),
    );
    const missing = [...served].filter((r) => !documented.has(r));
    expect(missing).toEqual([]);
  });
});
