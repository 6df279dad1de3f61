import { createRouter } from '../../router';

export function runsRoutes() {
  return createRouter();
}
