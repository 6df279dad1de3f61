import { createRouter } from '../../router';

export function auditRoutes() {
  return createRouter();
}
