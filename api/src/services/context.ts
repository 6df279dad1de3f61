import type { Context } from 'hono';
import type { AppEnv, Principal, RequestMeta } from '../context';
import type { AppDeps } from '../deps';

/** What a service needs to act for a caller: dependencies, who, and from where. */
export interface ServiceContext {
  deps: AppDeps;
  principal: Principal;
  meta: RequestMeta;
}

export function serviceContext(c: Context<AppEnv>): ServiceContext {
  return { deps: c.get('deps'), principal: c.get('principal'), meta: c.get('meta') };
}

/** The audit fields every mutation shares. */
export function auditActor(ctx: ServiceContext) {
  return {
    tenantId: ctx.principal.tenantId,
    actorType: ctx.principal.actorType,
    actorId: ctx.principal.actorId,
    ip: ctx.meta.ip,
    userAgent: ctx.meta.userAgent,
  } as const;
}
