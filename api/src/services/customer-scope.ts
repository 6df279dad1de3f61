import { resourceRef } from '@keelson/common/constants';
import { NO_CUSTOMER } from '../context';
import type { ServiceContext } from './context';

/**
 * The one customer a caller may see, or null for staff (who see the whole organization). A
 * customer user not linked to any customer gets an id that matches nothing, so a forgotten link
 * shows an empty portal rather than the organization's data.
 */
export function customerScope(ctx: Pick<ServiceContext, 'principal'>): string | null {
  const { principal } = ctx;
  if (principal.customerId) return principal.customerId;
  return principal.role === 'customer' ? NO_CUSTOMER : null;
}

/** The KeelsonResources entry every run about a customer carries; customer users see exactly those runs. */
export const customerResource = (customerId: string) => resourceRef('customer', customerId);
