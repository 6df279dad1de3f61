import { createRouter } from '../../router';

export function blueprintsRoutes() {
  return createRouter();
}
