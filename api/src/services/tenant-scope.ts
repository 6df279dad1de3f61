import { runForTenant } from '@keelson/common/tenant-scope';
import { dataKeysFor } from '@keelson/db';
import type { AppDeps } from '../deps';

/**
 * Runs `fn` on behalf of an organization: what it sends to Temporal is sealed with that
 * organization's data key, which is read here, before `fn` can open a transaction — so sealing a
 * start inside one never waits on another connection (decision 0021).
 */
export async function forTenant<T>(deps: Pick<AppDeps, 'db' | 'keys'>, tenantId: string, fn: () => T | Promise<T>): Promise<T> {
  await dataKeysFor(deps.db, deps.keys).warm(tenantId);
  return runForTenant(tenantId, fn);
}
