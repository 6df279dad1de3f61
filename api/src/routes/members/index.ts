import { createRouter } from '../../router';

export function membersRoutes() {
  return createRouter();
}
