import { PERMISSIONS, type Permission } from '../../api/types';

/** Permissions by what they are about (`workflow`, `node`, …), in the API's order. */
export function groupScopes(scopes: readonly string[]): Array<{ resource: string; scopes: Permission[] }> {
  const allowed = new Set(scopes);
  const groups = new Map<string, Permission[]>();
  for (const p of PERMISSIONS) {
    if (!allowed.has(p)) continue;
    const resource = p.split('.')[0]!;
    groups.set(resource, [...(groups.get(resource) ?? []), p]);
  }
  return [...groups].map(([resource, list]) => ({ resource, scopes: list }));
}

/** The read-only part of a set of permissions: a key's least-privilege start. */
export const readScopes = (scopes: readonly Permission[]) => scopes.filter((s) => s.endsWith('.read'));

/** Only real permission strings, in the API's order. */
export const knownScopes = (scopes: readonly string[]): Permission[] => PERMISSIONS.filter((p) => scopes.includes(p));
