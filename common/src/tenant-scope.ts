import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The organization on whose behalf the current code runs (an API request, a webhook), so that the
 * payload codec seals what a Temporal client sends with that organization's data key. Node only:
 * never import it from workflows.
 */
const scope = new AsyncLocalStorage<string>();

export function runForTenant<T>(tenantId: string, fn: () => T): T {
  return scope.run(tenantId, fn);
}

export function currentTenant(): string | undefined {
  return scope.getStore();
}
