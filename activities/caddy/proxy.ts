import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The edge proxy of a Docker node: one Caddy HTTP server whose routes send each app's hostnames
 * to the container of its current release, driven through Caddy's admin API and one directory.
 *
 * Caddy applies every admin request as a whole new config: the new server starts listening beside
 * the old one, and the old one finishes its requests in flight but closes its idle keep-alive
 * connections at once. A client that sends its next request on such a connection just as it is
 * closed gets an error, unless it retries (browsers do, most HTTP libraries do not). So a switch
 * of an app's release does not go through the admin API at all: an app's route reads its upstream
 * from the name of the most recently modified file in the app's upstream directory
 * (`<upstreamsDir>/<route id>/`, e.g. `127.0.0.1:49153`), which Caddy looks up on every request,
 * and a switch puts a newer file there (renamed into place whole). Caddy's config, its listeners
 * and every client connection stay as they are; requests already proxied finish on the old
 * release, and every request that arrives after the switch goes to the new one. The admin API
 * changes the config only when an app gets its route, changes hostnames, is suspended or removed.
 *
 * Read-modify-write changes of the config (inserting before the catch-all, removal by index) are
 * guarded by Caddy's `If-Match` check against the route table they were computed from, and
 * recomputed when another change got in between.
 */

export interface CaddyProxyOptions {
  /** Caddy's admin endpoint, e.g. `http://127.0.0.1:2019`. */
  adminUrl: string;
  /** Name of the server under `apps.http.servers` that holds Keelson's routes. */
  server?: string;
  /** Addresses that server listens on (Caddy's network address syntax). */
  listen?: string[];
  /**
   * Where each app's current upstream is kept, as the name of the newest file in `<dir>/<route id>/`.
   * Caddy reads it on every request, so it must be on the same host as Caddy and readable by it.
   * Default: a directory under the system's temporary directory named after the admin address and
   * the server (a restarted host loses it along with Caddy's in-memory config; the node worker puts
   * both back).
   */
  upstreamsDir?: string;
}

export interface ProxyRouteSpec {
  /** Caddy `@id` of the route; unique in the whole Caddy config (letters, digits, `._:-`). */
  id: string;
  /** Hostnames answered by this route (`app.example.com`, `*.example.com`). */
  hosts: string[];
  /** The release's address as Caddy dials it, `host:port` (e.g. `127.0.0.1:49153`). */
  upstream: string;
}

/** A route that answers by itself (`setStaticRoute`): a suspended app's page. */
export interface StaticRouteSpec {
  id: string;
  hosts: string[];
  status: number;
  body: string;
}

export interface ProxyRoute {
  hosts: string[];
  upstream: string;
}

/** A refusal or failure answered by Caddy's admin API. */
export class CaddyAdminError extends Error {
  constructor(
    /** The admin call, e.g. `PATCH /id/app-web`. */
    readonly call: string,
    readonly status: number,
    /** Caddy's own message. */
    readonly caddyMessage: string,
  ) {
    super(`caddy admin ${call} failed (${status}): ${caddyMessage}`);
    this.name = 'CaddyAdminError';
  }
}

/** What a 404 answers for hostnames no route claims; app routes go before it. */
const NOT_FOUND_BODY = 'no app for this host';

/** What an app's route answers while its upstream directory holds no upstream. */
const NO_UPSTREAM_BODY = 'no release of this app is serving';

/** Upper bound for one admin call (they take milliseconds; a config load with many routes, more). */
const ADMIN_TIMEOUT_MS = 30_000;

/**
 * How long a retired server may keep finishing its requests after a config change (not a switch,
 * which changes no config) before Caddy closes them. Caddy's
 * default is to wait forever, which would keep old servers (and upstream connections) around for
 * as long as any streaming response lasts. Set when this class creates the http app; an http app
 * configured by someone else keeps its own setting.
 */
export const PROXY_DRAIN_GRACE_MS = 10_000;

/**
 * How long an upstream file stays after a newer one superseded it: far longer than Caddy takes
 * between globbing a route's directory and stat-ing what it found.
 */
const SUPERSEDED_KEPT_MS = 10_000;

/** Where upstream files are made before they are renamed into a route's directory; never a route id (`#`). */
const INCOMING_DIR = '#incoming';

/** Attempts of a read-modify-write change that keeps losing to concurrent changes. */
const MAX_CONFLICT_ATTEMPTS = 8;

/** Attempts of one admin request whose connection was dropped without an answer. */
const MAX_DROPPED_ATTEMPTS = 4;

const ROUTE_ID = /^[A-Za-z0-9._:-]+$/;
/** An upstream as Caddy dials it, `host:port`; also the name of the file that holds it. */
const UPSTREAM = /^[^\s/]+:\d{1,5}$/;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Snapshot<T> {
  value: T;
  /** Caddy's ETag of the path it was read from, for `If-Match`. */
  etag: string;
}

export class CaddyProxy {
  readonly adminUrl: string;
  readonly server: string;
  readonly listen: string[];
  readonly upstreamsDir: string;
  private readonly catchAllId: string;

  constructor({ adminUrl, server = 'keelson', listen = [':8080'], upstreamsDir }: CaddyProxyOptions) {
    if (!ROUTE_ID.test(server)) throw new Error(`invalid proxy server name "${server}" (letters, digits, ._:- only)`);
    if (listen.length === 0) throw new Error('the proxy server needs at least one listen address');
    this.adminUrl = adminUrl.replace(/\/+$/, '');
    this.server = server;
    this.listen = [...listen];
    this.catchAllId = `${server}-catch-all`;
    const admin = new URL(this.adminUrl);
    this.upstreamsDir = resolve(upstreamsDir ?? join(tmpdir(), 'keelson-proxy-upstreams', `${admin.hostname}-${admin.port || 'default'}-${server}`));
  }

  private get serverPath() {
    return `/config/apps/http/servers/${this.server}`;
  }

  private get routesPath() {
    return `${this.serverPath}/routes`;
  }

  /**
   * Creates the server (listen addresses, plain HTTP, the catch-all 404 as its last route), or
   * brings an existing one to that shape without touching its other routes. Safe to repeat; a
   * repeat that finds everything in place changes nothing.
   */
  async ensureServer(): Promise<void> {
    await this.retryOnConflict('ensureServer', async () => {
      const existing = await this.read<JsonObject | null>(this.serverPath);
      if (existing?.value) {
        const desired = this.reconcileServer(existing.value);
        if (canonicalJson(desired) === canonicalJson(existing.value)) return;
        await this.admin('PATCH', this.serverPath, desired, existing.etag);
        return;
      }
      await this.createServer();
    });
  }

  /**
   * Points `hosts` at `upstream`. The upstream changes by a newer file in the app's upstream
   * directory, which touches neither Caddy's config nor any connection: requests in flight finish
   * on the previous upstream, and every request that arrives after this resolves goes to the new
   * one. The route itself is written through the admin API only when it is missing or differs
   * (first deploy, new hostnames, a suspended page, a route of an older Keelson).
   */
  async setRoute({ id, hosts, upstream }: ProxyRouteSpec): Promise<{ previous: string | null }> {
    checkRouteId(id);
    if (id === this.catchAllId) throw new Error(`route id "${id}" is the proxy server's own catch-all`);
    if (hosts.length === 0 || hosts.some((h) => !h.trim())) throw new Error(`route ${id}: hosts must be non-empty hostnames`);
    if (!UPSTREAM.test(upstream)) throw new Error(`route ${id}: upstream "${upstream}" is not host:port`);
    // The upstream first, so that a route being added or rewritten finds it in place.
    const before = await this.writeUpstream(id, upstream);
    const route = routeConfig({ id, hosts, dir: this.routeDir(id) });

    // The upstream of a route written by an older Keelson (the upstream in the config itself).
    let configured: string | null = null;
    await this.retryOnConflict(`setRoute ${id}`, async () => {
      const { value: routes, etag } = await this.readRoutes();
      const existing = routes.find((r) => r['@id'] === id);
      if (existing) {
        if (canonicalJson(existing) === canonicalJson(route)) return;
        configured ??= parseStaticUpstream(existing);
        // The whole route object, so that changed hosts or proxy settings apply in the same step.
        await this.admin('PATCH', `/id/${id}`, route, etag);
        return;
      }
      const catchAll = routes.findIndex((r) => r['@id'] === this.catchAllId);
      if (catchAll < 0) throw new Error(`proxy server "${this.server}" has no catch-all route; call ensureServer() first`);
      // PUT on an array index inserts there, shifting the catch-all one place on.
      await this.admin('PUT', `${this.routesPath}/${catchAll}`, route, etag);
    });
    return { previous: before ?? configured };
  }

  /**
   * Points `hosts` at a fixed answer instead of an upstream (a suspended app's page), replacing
   * the route with this id or adding it before the catch-all. Safe to repeat: a route that
   * already answers exactly this is left alone.
   */
  async setStaticRoute({ id, hosts, status, body }: StaticRouteSpec): Promise<void> {
    checkRouteId(id);
    if (id === this.catchAllId) throw new Error(`route id "${id}" is the proxy server's own catch-all`);
    if (hosts.length === 0 || hosts.some((h) => !h.trim())) throw new Error(`route ${id}: hosts must be non-empty hostnames`);
    const route = staticRouteConfig({ id, hosts, status, body });
    await this.retryOnConflict(`setStaticRoute ${id}`, async () => {
      const { value: routes, etag } = await this.readRoutes();
      const existing = routes.find((r) => r['@id'] === id);
      if (existing) {
        if (canonicalJson(existing) === canonicalJson(route)) return;
        await this.admin('PATCH', `/id/${id}`, route, etag);
        return;
      }
      const catchAll = routes.findIndex((r) => r['@id'] === this.catchAllId);
      if (catchAll < 0) throw new Error(`proxy server "${this.server}" has no catch-all route; call ensureServer() first`);
      await this.admin('PUT', `${this.routesPath}/${catchAll}`, route, etag);
    });
  }

  /**
   * The route's hostnames and upstream, or null when there is no route with this id or its
   * upstream directory holds none (a host that lost it: `setRoute` puts it back).
   */
  async getRoute(id: string): Promise<ProxyRoute | null> {
    checkRouteId(id);
    const { value: routes } = await this.readRoutes({ missingIsEmpty: true });
    const route = routes.find((r) => r['@id'] === id);
    if (!route) return null;
    const hosts = hostsOf(route);
    if (hosts && upstreamDirOf(route) === this.routeDir(id)) {
      const upstream = await this.readUpstream(id);
      return upstream ? { hosts, upstream } : null;
    }
    const upstream = parseStaticUpstream(route);
    if (!hosts || !upstream) throw new Error(`route ${id} in proxy server "${this.server}" is not a reverse_proxy route to one upstream`);
    return { hosts, upstream };
  }

  /** Removes the route and its upstream directory; a route that is not there is success. */
  async removeRoute(id: string): Promise<void> {
    checkRouteId(id);
    await this.retryOnConflict(`removeRoute ${id}`, async () => {
      const { value: routes, etag } = await this.readRoutes({ missingIsEmpty: true });
      const index = routes.findIndex((r) => r['@id'] === id);
      if (index < 0) return;
      await this.admin('DELETE', `${this.routesPath}/${index}`, undefined, etag);
    });
    await rm(this.routeDir(id), { recursive: true, force: true });
  }

  private routeDir(id: string): string {
    return join(this.upstreamsDir, id);
  }

  /** The upstream named in the route's directory, or null when it holds none. */
  private async readUpstream(id: string): Promise<string | null> {
    return (await this.upstreamFiles(id))[0]?.name ?? null;
  }

  /**
   * The route's upstream files, newest first: the order in which Caddy's `most_recently_modified`
   * picks (latest mtime; of equal ones, the first by name). A file that vanishes meanwhile is left out.
   */
  private async upstreamFiles(id: string): Promise<{ name: string; mtimeMs: number }[]> {
    const dir = this.routeDir(id);
    let names: string[];
    try {
      names = (await readdir(dir)).filter((name) => UPSTREAM.test(name)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const files = await Promise.all(names.map(async (name) => ({ name, mtimeMs: (await stat(join(dir, name)).catch(() => null))?.mtimeMs ?? -1 })));
    return files.filter((f) => f.mtimeMs >= 0).sort((a, b) => b.mtimeMs - a.mtimeMs);
  }

  /**
   * Makes `upstream` the route's newest upstream file and returns the one it superseded. The file
   * is written under a temporary name, given an mtime later than every other, and renamed into
   * place, so Caddy sees it whole or not at all; an existing file of that name just has its
   * mtime moved on. The superseded file stays: Caddy globs the directory and then stats what it
   * found, and a request that globbed just before this switch must still find its file. Files
   * superseded more than `SUPERSEDED_KEPT_MS` ago are removed here, on a later switch.
   */
  private async writeUpstream(id: string, upstream: string): Promise<string | null> {
    const dir = this.routeDir(id);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const before = await this.upstreamFiles(id);
    const newest = before[0];
    const mtime = new Date(Math.max(Date.now(), Math.floor(newest?.mtimeMs ?? 0) + 1));
    try {
      if (before.some((f) => f.name === upstream)) {
        await utimes(join(dir, upstream), mtime, mtime);
      } else {
        // Outside every route's directory, so that Caddy's glob never finds it half-made.
        const incoming = join(this.upstreamsDir, INCOMING_DIR);
        await mkdir(incoming, { recursive: true, mode: 0o755 });
        const temporary = join(incoming, `${process.pid}-${randomUUID()}`);
        await writeFile(temporary, '', { mode: 0o644 });
        await utimes(temporary, mtime, mtime);
        await rename(temporary, join(dir, upstream));
      }
    } catch (err) {
      throw new Error(`route ${id}: could not write its upstream in ${dir}: ${(err as Error).message}`, { cause: err });
    }
    // The directory now, newest first: the new file, then the others as they were. A file was
    // superseded when the next newer one got its mtime.
    const files = [{ name: upstream, mtimeMs: mtime.getTime() }, ...before.filter((f) => f.name !== upstream)];
    const now = Date.now();
    for (let i = 1; i < files.length; i++) {
      if (now - files[i - 1]!.mtimeMs > SUPERSEDED_KEPT_MS) await rm(join(dir, files[i]!.name), { force: true });
    }
    return newest?.name ?? null;
  }

  private serverConfig(): JsonObject {
    return {
      listen: this.listen,
      routes: [this.catchAllRoute()],
      // Plain HTTP: without this Caddy would add HTTP->HTTPS redirects and try to obtain
      // certificates for every host it sees in the routes.
      automatic_https: { disable: true },
    };
  }

  private catchAllRoute(): JsonObject {
    return {
      '@id': this.catchAllId,
      handle: [{ handler: 'static_response', status_code: 404, body: NOT_FOUND_BODY }],
      terminal: true,
    };
  }

  /** The existing server with our listen addresses and settings, and the catch-all last. */
  private reconcileServer(server: JsonObject): JsonObject {
    const routes = Array.isArray(server.routes) ? server.routes : [];
    const appRoutes = routes.filter((r) => !(isObject(r) && r['@id'] === this.catchAllId));
    const automaticHttps = isObject(server.automatic_https) ? server.automatic_https : {};
    return {
      ...server,
      listen: this.listen,
      automatic_https: { ...automaticHttps, disable: true },
      routes: [...appRoutes, this.catchAllRoute()],
    };
  }

  /**
   * Creates the server under the deepest part of `apps.http.servers` that exists. Caddy refuses
   * to create a key that appeared meanwhile ("key already exists"), which retries from the top.
   */
  private async createServer(): Promise<void> {
    const levels: { path: string; value: JsonObject }[] = [];
    let value: JsonObject = this.serverConfig();
    levels.push({ path: this.serverPath, value });
    value = { [this.server]: value };
    levels.push({ path: '/config/apps/http/servers', value });
    value = { servers: value, grace_period: `${PROXY_DRAIN_GRACE_MS / 1000}s` };
    levels.push({ path: '/config/apps/http', value });
    value = { http: value };
    levels.push({ path: '/config/apps', value });

    for (const level of levels) {
      const parent = level.path.slice(0, level.path.lastIndexOf('/'));
      // The config root exists even in a Caddy started without a config (it is null then, and
      // PUT /config/apps still works); every deeper parent must be an object.
      if (parent !== '/config' && !isObject((await this.read<Json>(parent))?.value ?? null)) continue;
      await this.admin('PUT', level.path, level.value);
      return;
    }
  }

  private async readRoutes({ missingIsEmpty = false } = {}): Promise<Snapshot<JsonObject[]>> {
    const snapshot = await this.read<Json>(this.routesPath);
    if (!snapshot || snapshot.value === null) {
      if (missingIsEmpty) return { value: [], etag: '' };
      throw new Error(`proxy server "${this.server}" is not configured; call ensureServer() first`);
    }
    if (!Array.isArray(snapshot.value)) throw new Error(`proxy server "${this.server}": routes is not an array`);
    return { value: snapshot.value.filter(isObject), etag: snapshot.etag };
  }

  /**
   * GET a config path with the ETag Caddy would compute for it. Caddy sends its ETag as an HTTP
   * trailer, which fetch does not expose; it is `"<path> <FNV-1a 32 of the body, hex>"`, so it is
   * computed here from the exact bytes received. Null when the path's parent does not exist.
   */
  private async read<T extends Json>(path: string): Promise<Snapshot<T> | null> {
    const res = await this.request('GET', path);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (res.status === 400 && new TextDecoder().decode(bytes).includes('invalid traversal path')) return null;
    if (!res.ok) throw adminError('GET', path, res.status, new TextDecoder().decode(bytes));
    return { value: JSON.parse(new TextDecoder().decode(bytes)) as T, etag: `"${path} ${fnv1a32Hex(bytes)}"` };
  }

  private async admin(method: string, path: string, body?: Json, ifMatch?: string): Promise<void> {
    const res = await this.request(method, path, body, ifMatch);
    const text = await res.text();
    if (!res.ok) throw adminError(method, path, res.status, text);
  }

  private async request(method: string, path: string, body?: Json, ifMatch?: string): Promise<Response> {
    // Caddy replaces its admin server on every config change, closing idle connections: one kept
    // alive from the previous call would fail the next one.
    const headers: Record<string, string> = { connection: 'close' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (ifMatch) headers['if-match'] = ifMatch;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fetch(`${this.adminUrl}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(ADMIN_TIMEOUT_MS),
        });
      } catch (err) {
        if (isTimeout(err)) throw new Error(`proxy admin API at ${this.adminUrl} did not answer ${method} ${path} within ${ADMIN_TIMEOUT_MS / 1000}s`);
        // The admin server retired by the previous change may drop a request it accepted. Sending
        // it again is safe: reads are reads, and every write carries If-Match or creates a key,
        // so one that did apply the first time comes back as a conflict and is recomputed.
        if (isDroppedConnection(err) && attempt < MAX_DROPPED_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, 25 * attempt));
          continue;
        }
        throw new Error(`proxy admin API unreachable at ${this.adminUrl}: ${causeOf(err)}`, { cause: err });
      }
    }
  }

  /** Runs a read-modify-write step again when Caddy reports that the config changed under it. */
  private async retryOnConflict<T>(what: string, step: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await step();
      } catch (err) {
        if (!isConflict(err)) throw err;
        if (attempt >= MAX_CONFLICT_ATTEMPTS) {
          throw new Error(`${what}: the proxy config kept changing underneath (${attempt} attempts): ${(err as Error).message}`, { cause: err });
        }
        await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** attempt, 500) * Math.random()));
      }
    }
  }
}

/** The placeholder that carries an app's upstream from its directory to the proxy's dial address. */
const UPSTREAM_PLACEHOLDER = 'keelson_upstream';

/**
 * One app's route. Its upstream is the name of the most recently modified file in `dir` (the
 * `file` matcher globs the directory on every request, stats what it found and takes the newest;
 * `map` strips the leading slash), so the route's config never names a release. The proxy's
 * settings are those of a single-upstream switch:
 * - `try_duration`/`try_interval`: a request that cannot reach the upstream (a release that
 *   stopped listening a moment early, a container restarting) is retried for a few seconds
 *   instead of failing at once with a 502.
 * - no passive or active health checks: the deploy checks a release's health before it switches,
 *   and with one upstream per route Caddy marking it unhealthy could only turn a blip into an
 *   outage of `fail_duration`.
 * - a short dial timeout, so a dead address is retried (within `try_duration`) instead of waited on.
 * A directory with no upstream in it answers 502 rather than falling through to an empty 200.
 */
function routeConfig({ id, hosts, dir }: { id: string; hosts: string[]; dir: string }): JsonObject {
  return {
    '@id': id,
    match: [{ host: hosts }],
    handle: [
      {
        handler: 'subroute',
        routes: [
          {
            match: [{ file: { root: dir, try_files: ['/*'], try_policy: 'most_recently_modified' } }],
            handle: [
              { handler: 'map', source: '{http.matchers.file.relative}', destinations: [`{${UPSTREAM_PLACEHOLDER}}`], mappings: [{ input_regexp: '^/(.+)$', outputs: ['$1'] }] },
              {
                handler: 'reverse_proxy',
                upstreams: [{ dial: `{${UPSTREAM_PLACEHOLDER}}` }],
                load_balancing: { selection_policy: { policy: 'first' }, try_duration: '5s', try_interval: '100ms' },
                transport: { protocol: 'http', dial_timeout: '2s' },
              },
            ],
            terminal: true,
          },
          { handle: [{ handler: 'static_response', status_code: 502, body: NO_UPSTREAM_BODY }], terminal: true },
        ],
      },
    ],
    terminal: true,
  };
}

function staticRouteConfig({ id, hosts, status, body }: StaticRouteSpec): JsonObject {
  return {
    '@id': id,
    match: [{ host: hosts }],
    handle: [{ handler: 'static_response', status_code: status, headers: { 'Content-Type': ['text/html; charset=utf-8'], 'Retry-After': ['3600'] }, body }],
    terminal: true,
  };
}

function hostsOf(route: JsonObject): string[] | null {
  const match = Array.isArray(route.match) && isObject(route.match[0]) ? route.match[0] : null;
  return match && Array.isArray(match.host) ? match.host.filter((h): h is string => typeof h === 'string') : null;
}

/** The directory a route reads its upstream from, or null for any other kind of route. */
function upstreamDirOf(route: JsonObject): string | null {
  const handler = Array.isArray(route.handle) && isObject(route.handle[0]) ? route.handle[0] : null;
  const first = handler?.handler === 'subroute' && Array.isArray(handler.routes) && isObject(handler.routes[0]) ? handler.routes[0] : null;
  const match = first && Array.isArray(first.match) && isObject(first.match[0]) ? first.match[0] : null;
  const file = match && isObject(match.file) ? match.file : null;
  return typeof file?.root === 'string' ? file.root : null;
}

/** The upstream of a route that names it in the config (as routes did before upstream directories). */
function parseStaticUpstream(route: JsonObject): string | null {
  const handler = Array.isArray(route.handle) && isObject(route.handle[0]) ? route.handle[0] : null;
  const upstreams = handler?.handler === 'reverse_proxy' && Array.isArray(handler.upstreams) ? handler.upstreams : [];
  const dial = isObject(upstreams[0]) ? upstreams[0].dial : null;
  return typeof dial === 'string' ? dial : null;
}

function checkRouteId(id: string) {
  // Also a directory name under upstreamsDir: "." and ".." are not.
  if (!ROUTE_ID.test(id) || /^\.+$/.test(id)) throw new Error(`invalid proxy route id "${id}" (letters, digits, ._:- only)`);
}

function adminError(method: string, path: string, status: number, body: string): CaddyAdminError {
  let message = body.trim() || `HTTP ${status}`;
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
  } catch {
    // not JSON: keep the text
  }
  return new CaddyAdminError(`${method} ${path}`, status, message);
}

/** The config changed between our read and our write (If-Match, or a key created meanwhile). */
function isConflict(err: unknown): boolean {
  return err instanceof CaddyAdminError && (err.status === 412 || err.caddyMessage.includes('key already exists'));
}

/** The connection closed or was reset after it was established (not refused: Caddy is there). */
function isDroppedConnection(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  const code = cause instanceof Error ? (cause as { code?: unknown }).code : undefined;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

function causeOf(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} (${cause.message})` : cause.message;
  }
  return String(cause);
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON with object keys sorted, to compare configs regardless of key order. */
function canonicalJson(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** 32-bit FNV-1a, the hash behind Caddy's config ETags. */
function fnv1a32Hex(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
