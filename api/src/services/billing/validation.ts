import { z } from '@hono/zod-openapi';
import { IANAZone } from 'luxon';
import validator from 'validator';

/** ISO 3166-1 alpha-2, upper-cased (validator's list). */
export const Country = z
  .string()
  .trim()
  .transform((v) => v.toUpperCase())
  .refine((v) => validator.isISO31661Alpha2(v), 'an ISO 3166-1 country code like DE or US');

/** ISO 4217, upper-cased (validator's list). */
export const Currency = z
  .string()
  .trim()
  .transform((v) => v.toUpperCase())
  .refine((v) => validator.isISO4217(v), 'an ISO 4217 currency code like EUR or USD');

/** An IANA time zone luxon (and so Intl) knows: `Europe/Berlin`, `Pacific/Kiritimati`, `Etc/GMT+12`. */
export const TimeZone = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .refine((v) => IANAZone.isValidZone(v), 'an IANA time zone like Europe/Berlin or UTC');

/** Money in minor units (cents): a whole number, never a float. */
export const Minor = z
  .number()
  .int('a whole number of minor units (cents)')
  .min(0)
  .max(1_000_000_000_000);

export type TaxIdCheck = { valid: true } | { valid: false; known: boolean };

/**
 * Checks a normalized tax id (upper case, no spaces) against its country's format with
 * validator's isVAT; EU ids may carry their country prefix (`DE123456789`, Greece `EL…`). A
 * country validator does not know is `known: false`: the id is kept but never counts as valid,
 * so it never triggers a reverse charge.
 */
export function checkTaxId(taxId: string, country: string): TaxIdCheck {
  const code = country === 'GR' ? 'EL' : country;
  try {
    return validator.isVAT(taxId, code as Parameters<typeof validator.isVAT>[1]) ? { valid: true } : { valid: false, known: true };
  } catch {
    // validator throws for a country it has no format for.
    return { valid: false, known: false };
  }
}
