import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Auth, Identity } from '../auth';
import type { Cluster } from '../cluster';
import type { Faults } from '../faults';
import { Paged, type Router } from '../api/router';
import { validateParams } from '../params/schema';
import { lockTimeoutMessage, type TaskRunner } from '../tasks';
import { notImplemented, permissionError, PveError } from './errors';
import { sendData, sendError } from './envelope';
import { API_PREFIX, paramsFromSearch, readBodyParams, splitPath } from './request';

export interface ApiDependencies {
  router: Router;
  auth: Auth;
  cluster: Cluster;
  tasks: TaskRunner;
  faults: Faults;
  /** Current delay before a 401 goes out (PVE waits ~3 s to slow down guessing). */
  authFailureDelayMs(): number;
  /** Requests under `/_sim/`. */
  control(req: IncomingMessage, res: ServerResponse, segments: string[], url: URL): Promise<void>;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE']);

/** The node a `/nodes/{node}/…` request is for, and the guest for `…/qemu|lxc/{vmid}/…`. */
function requestTarget(segments: string[]): { node?: string; vmid?: number; kind?: 'qemu' | 'lxc' } {
  if (segments[0] !== 'nodes' || segments[1] === undefined) return {};
  const kind = segments[2] === 'qemu' || segments[2] === 'lxc' ? segments[2] : undefined;
  const vmid = kind && segments[3] !== undefined && /^\d+$/.test(segments[3]) ? Number(segments[3]) : undefined;
  return { node: segments[1], ...(vmid !== undefined ? { vmid } : {}), ...(kind ? { kind } : {}) };
}

/**
 * One API request, in pveproxy's order: authenticate, proxy to the node (595 when it is gone),
 * verify parameters, check the privilege, run the handler, wrap the result in `{"data": …}`.
 * Injected faults cut in after authentication.
 */
export function createApiHandler(deps: ApiDependencies) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let dropAfter = false;
    try {
      const url = new URL(req.url ?? '/', 'https://localhost');
      if (url.pathname === '/_sim' || url.pathname.startsWith('/_sim/')) {
        await deps.control(req, res, splitPath(url.pathname).slice(1), url);
        return;
      }
      const method = (req.method ?? 'GET').toUpperCase();
      if (!url.pathname.startsWith(`${API_PREFIX}/`) && url.pathname !== API_PREFIX) throw notImplemented(method, url.pathname);
      const segments = splitPath(url.pathname.slice(API_PREFIX.length));
      if (!METHODS.has(method)) throw notImplemented(method, `/${segments.join('/')}`);

      const query = paramsFromSearch(url.searchParams);
      const match = deps.router.match(method, segments);
      let identity: Identity = { userid: 'anonymous', readonly: true };
      if (!match?.route.unauthenticated) identity = deps.auth.authenticate(req.headers, method !== 'GET');
      if (!match) throw notImplemented(method, `/${segments.join('/')}`);

      const target = requestTarget(segments);
      if (target.node !== undefined && !deps.cluster.node(target.node).online) throw new PveError(595, 'No route to host');

      const fault = deps.faults.takeForRequest({ method, segments, ...target });
      switch (fault?.action.kind) {
        case 'http-error':
          throw new PveError(fault.action.status, fault.action.message);
        case 'node-offline':
          throw new PveError(595, 'No route to host');
        case 'lock-timeout':
          throw new PveError(500, lockTimeoutMessage(target.kind ?? 'qemu', target.vmid ?? 0));
        case 'drop-connection':
          if (fault.action.when === 'before') {
            req.socket.destroy();
            return;
          }
          dropAfter = true;
          break;
      }

      const raw = method === 'POST' || method === 'PUT' ? await readBodyParams(req, query) : query;
      const params = validateParams(match.route.params, { ...raw, ...match.pathParams });
      const permission = match.route.permission?.(params);
      if (permission && identity.readonly && !permission.privilege.endsWith('.Audit')) {
        throw permissionError(permission.path, permission.privilege);
      }

      const result = await match.route.handler({ identity, params, cluster: deps.cluster, tasks: deps.tasks });
      if (dropAfter) {
        req.socket.destroy();
        return;
      }
      if (result instanceof Paged) sendData(res, result.items, { total: result.total });
      else sendData(res, result);
    } catch (error) {
      if (dropAfter) {
        req.socket.destroy();
        return;
      }
      const pveError = error instanceof PveError ? error : new PveError(500, error instanceof Error ? error.message : String(error));
      if (pveError.status === 401) {
        const delay = deps.authFailureDelayMs();
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      }
      if (!res.headersSent && !res.destroyed) sendError(res, pveError);
    }
  };
}
