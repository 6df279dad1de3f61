import { z } from '@hono/zod-openapi';
import { CUSTOMER_KINDS } from '@keelson/db/schema';
import { Country, Currency, TimeZone } from '../../services/billing/validation';

const Text = (max: number) => z.string().trim().min(1).max(max);

export const AddressSchema = z
  .object({
    line1: Text(200),
    line2: z.string().trim().max(200).nullable().default(null).transform((v) => v || null),
    postalCode: z.string().trim().min(1).max(20).regex(/^[A-Za-z0-9][A-Za-z0-9 -]*$/, 'a postal code (letters, digits, spaces and dashes)'),
    city: Text(100),
    region: z.string().trim().max(100).nullable().default(null).transform((v) => v || null),
    country: Country,
  })
  .openapi('PostalAddress');

export const ContactInput = z.object({
  name: Text(200),
  email: z.email({ error: 'must be an email address' }).max(254),
  phone: z.string().trim().max(40).regex(/^\+?[0-9 ()./-]{3,40}$/, 'a phone number (digits, spaces, + ( ) . / -)').nullable().default(null),
  role: z.string().trim().max(100).nullable().default(null),
  isBilling: z.boolean().default(false),
});

export const CustomerBody = z
  .object({
    kind: z.enum(CUSTOMER_KINDS).openapi({ description: '`individual` (a person) or `company`' }),
    name: Text(200).openapi({ description: "A person's full name or a company's legal name" }),
    address: AddressSchema,
    taxId: z
      .string()
      .trim()
      .max(30)
      .nullable()
      .default(null)
      .transform((v) => (v ? v.replace(/[\s.-]/g, '').toUpperCase() : null))
      .openapi({ description: "VAT or tax id; its format is checked for the address's country (validator's isVAT)" }),
    currency: Currency,
    timeZone: TimeZone.openapi({ description: 'IANA zone: billing periods start at local midnight there' }),
    notes: z.string().max(10_000).default(''),
    contacts: z
      .array(ContactInput)
      .min(1, 'at least one contact')
      .max(50)
      .refine((cs) => cs.filter((c) => c.isBilling).length <= 1, 'only one contact can be the billing contact')
      .openapi({ description: 'The first one is the billing contact unless one has isBilling' }),
  })
  .openapi('CustomerInput');
export type CustomerBody = z.infer<typeof CustomerBody>;

export const ContactSchema = z
  .object({ id: z.string(), name: z.string(), email: z.string(), phone: z.string().nullable(), role: z.string().nullable(), isBilling: z.boolean() })
  .openapi('CustomerContact');

export const CustomerSchema = z
  .object({
    id: z.string(),
    kind: z.enum(CUSTOMER_KINDS),
    name: z.string(),
    address: z.object({ line1: z.string(), line2: z.string().nullable(), postalCode: z.string(), city: z.string(), region: z.string().nullable(), country: z.string() }),
    country: z.string(),
    taxId: z.string().nullable(),
    taxIdValid: z.boolean().openapi({ description: 'The tax id passed the format check for the country (needed for reverse charge)' }),
    currency: z.string(),
    timeZone: z.string(),
    notes: z.string(),
    contacts: z.array(ContactSchema),
    billingContact: ContactSchema.nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Customer');

export const CustomerListSchema = z.object({ items: z.array(CustomerSchema) }).openapi('CustomerList');

export const CustomerListQuery = z.object({
  q: z.string().max(200).optional().openapi({ description: 'Name, contact email or tax id contains this' }),
});

export const CustomerUserBody = z.object({ userId: z.uuid({ error: 'must be a user id (UUID)' }) }).openapi('CustomerUserInput');
export const CustomerUserSchema = z.object({ userId: z.string(), email: z.string(), name: z.string(), createdAt: z.string() }).openapi('CustomerUser');
export const CustomerUserListSchema = z.object({ items: z.array(CustomerUserSchema) }).openapi('CustomerUserList');
export const CustomerUserParams = z.object({
  id: z.uuid({ error: 'must be a UUID' }).openapi({ param: { name: 'id', in: 'path' } }),
  userId: z.uuid({ error: 'must be a UUID' }).openapi({ param: { name: 'userId', in: 'path' } }),
});
