import { createRouter } from '../../router';

export function nodesRoutes() {
  return createRouter();
}
