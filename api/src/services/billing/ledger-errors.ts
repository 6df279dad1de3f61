import { LedgerError } from '@keelson/activities/billing/ledger';
import { ConflictError, NotFoundError, ValidationError } from '../../errors';

/** Runs a ledger call and maps its errors to the API's: 404, 409, or a 400 naming the problem. */
export async function ledgerCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LedgerError) {
      if (err.kind === 'not_found') throw new NotFoundError(err.message.replace(/ not found$/, ''));
      if (err.kind === 'conflict') throw new ConflictError(err.message);
      throw new ValidationError(err.message);
    }
    throw err;
  }
}
