/**
 * Which parts of the UI exist yet. Steps that need a missing part are skipped with the reason, so
 * they turn on by themselves once the part lands.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = fileURLToPath(new URL('..', import.meta.url));
const appRoutes = join(web, 'src', 'routes', '(app)');

/** Route folders under src/routes/(app), recursively, as paths relative to it. */
function routeDirs(dir = appRoutes, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => [`${prefix}${d.name}`, ...routeDirs(join(dir, d.name), `${prefix}${d.name}/`)]);
}

const routes = routeDirs();
const hasRoute = (test: (path: string) => boolean) => routes.some(test);

export const features = {
  /** The blueprint list and create/edit form (`/blueprints`). */
  blueprintPages: hasRoute((r) => r === 'blueprints'),
  /** A container's terminal page (a route folder named `terminal`). */
  terminal: hasRoute((r) => r.split('/').includes('terminal')),
  /** Members, API keys and audit log pages. */
  adminPages: ['members', 'api-keys', 'audit'].every((r) => hasRoute((x) => x === r)),
};

export const SKIP = {
  blueprintPages: 'no blueprint pages in web/src/routes/(app)/blueprints yet: blueprints are created through the API',
  terminal: 'no container terminal page in web/src/routes yet',
  adminPages: 'no members / API keys / audit pages in web/src/routes/(app) yet',
} as const;

/** Prints why a test is skipped (vitest shows only the name). */
export function skipNote(feature: keyof typeof features): boolean {
  if (!features[feature]) process.stderr.write(`e2e │ skipping: ${SKIP[feature]}\n`);
  return !features[feature];
}
