import type { Identity } from '../auth';
import type { Cluster } from '../cluster';
import type { ParamSchema, Params } from '../params/schema';
import type { TaskRunner } from '../tasks';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** What a handler receives: the caller, validated parameters (path ones included) and the cluster. */
export interface RouteContext {
  identity: Identity;
  params: Params;
  cluster: Cluster;
  tasks: TaskRunner;
}

/** A paged list: PVE adds `total` next to `data`. */
export class Paged {
  constructor(
    readonly items: unknown[],
    readonly total: number,
  ) {}
}

export interface Route {
  method: Method;
  /** `/nodes/{node}/qemu/{vmid}/clone` — `{name}` segments become parameters. */
  path: string;
  params: ParamSchema;
  /** The ACL path and privilege PVE checks, named in its 403 `Permission check failed (…)`. */
  permission?: (params: Params) => { path: string; privilege: string };
  /** Reachable without a ticket (only the login itself). */
  unauthenticated?: boolean;
  handler(context: RouteContext): unknown;
}

export interface RouteMatch {
  route: Route;
  pathParams: Record<string, string>;
}

/** Matches decoded path segments against the route table. */
export class Router {
  private readonly routes: Array<{ route: Route; parts: string[] }> = [];

  add(...routes: Route[]): this {
    for (const route of routes) this.routes.push({ route, parts: route.path.split('/').filter((part) => part !== '') });
    return this;
  }

  /** The route for this method and path; `pathExists` tells a wrong method from an unknown path. */
  match(method: string, segments: string[]): RouteMatch | undefined {
    for (const { route, parts } of this.routes) {
      if (route.method !== method || parts.length !== segments.length) continue;
      const pathParams: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const part = parts[i]!;
        if (part.startsWith('{') && part.endsWith('}')) pathParams[part.slice(1, -1)] = segments[i]!;
        else ok = part === segments[i];
      }
      if (ok) return { route, pathParams };
    }
    return undefined;
  }
}
