import { createRouter } from '../../router';

export function apiKeysRoutes() {
  return createRouter();
}
