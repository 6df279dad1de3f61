import { createRouter } from '../../router';

export function authRoutes() {
  return createRouter();
}
