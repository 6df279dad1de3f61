import { createRouter } from '../../router';
import { createApiKeyRoute } from './create';
import { listApiKeysRoute } from './list';
import { revokeApiKeyRoute } from './revoke';

/** /api/api-keys: keys for automation. app.ts puts `authenticate` in front of all of it. */
export function apiKeysRoutes() {
  return createRouter().route('/', listApiKeysRoute()).route('/', createApiKeyRoute()).route('/', revokeApiKeyRoute());
}

export type ApiKeysRoutes = ReturnType<typeof apiKeysRoutes>;
