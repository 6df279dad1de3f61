import { createRouter } from '../../router';

export function containersRoutes() {
  return createRouter();
}
