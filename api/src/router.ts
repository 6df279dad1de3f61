import { OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context';
import { guardRoute } from './edge';
import { validationHook } from './errors';

/**
 * Every resource's sub-app: typed routes whose zod failures become one 400 naming the fields.
 * Each route registered through `openapi()` also gets the edge guard (`edge.ts`) after its own
 * middleware, so a route added anywhere refuses NUL, lone surrogates and unbounded lists in its
 * path parameters and JSON body without having to remember to.
 */
export function createRouter() {
  const router = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const register = router.openapi;
  router.openapi = ((route: RouteConfig, ...rest: unknown[]) => {
    const own = route.middleware === undefined ? [] : Array.isArray(route.middleware) ? route.middleware : [route.middleware];
    const middleware = [...(own as MiddlewareHandler[]), guardRoute(route)];
    return (register as (...args: unknown[]) => unknown)({ ...route, middleware }, ...rest);
  }) as typeof router.openapi;
  return router;
}
