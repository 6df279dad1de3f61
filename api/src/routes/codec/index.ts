import { createRouter } from '../../router';

export function codecRoutes() {
  return createRouter();
}
