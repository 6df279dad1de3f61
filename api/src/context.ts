import type { Permission, Role } from '@keelson/common/permissions';
import type { AppDeps } from './deps';

/** Who is calling, resolved by the auth middleware from a session cookie or an API key. */
export interface Principal {
  tenantId: string;
  /** For the audit log and the KeelsonActor search attribute: `user:<id>`, `apikey:<id>`, `webhook:<provider>`. */
  actor: string;
  actorType: 'user' | 'api_key' | 'webhook';
  actorId: string;
  userId: string | null;
  role: Role | null;
  permissions: ReadonlySet<Permission>;
  sessionId: string | null;
  /**
   * The person whose current rights bound this caller: the signed-in user, or an API key's
   * creator. Keys a caller creates belong to this person. Absent for webhooks and the system.
   */
  onBehalfOf?: string | null;
  /**
   * Set for callers with the `customer` role (and API keys made by one): the one customer whose
   * data they may see. Every billing query and run lookup narrows to it (services/customer-scope.ts).
   */
  customerId?: string | null;
}

/** The customer id of a customer user linked to none: matches no row and no run. */
export const NO_CUSTOMER = '00000000-0000-0000-0000-000000000000';

export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
}

export type AppEnv = {
  Variables: {
    requestId: string;
    deps: AppDeps;
    principal: Principal;
    meta: RequestMeta;
  };
};
