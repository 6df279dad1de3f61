import { z } from '@hono/zod-openapi';
import { PERMISSIONS, ROLES } from '@keelson/common/permissions';

export const LoginBodySchema = z
  .object({
    email: z.string().trim().min(1).max(320).openapi({ example: 'admin@example.com' }),
    password: z.string().min(1).max(1024),
    organization: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "Slug of the organization to sign in to; defaults to the user's first membership." }),
    acceptInvitations: z
      .array(z.uuid())
      .max(50)
      .transform((ids) => [...new Set(ids)])
      .optional()
      .openapi({ description: 'Invitations (ids from a 403 `invitation_pending` answer) to accept as part of signing in.' }),
  })
  .openapi('LoginBody');

const UserSchema = z.object({ id: z.uuid(), email: z.string(), name: z.string() }).openapi('User');
const OrganizationSchema = z.object({ id: z.uuid(), slug: z.string(), name: z.string() }).openapi('Organization');

export const SignedInSchema = z
  .object({
    user: UserSchema,
    organization: OrganizationSchema,
    role: z.enum(ROLES),
    permissions: z.array(z.enum(PERMISSIONS)),
    csrfToken: z.string().openapi({ description: 'Send as X-CSRF-Token on every state-changing request made with the cookie.' }),
    twoFactorRequired: z
      .boolean()
      .openapi({ description: 'True until POST /api/auth/totp/verify succeeds; until then the session is refused elsewhere.' }),
  })
  .openapi('SignedIn');

export const MeSchema = z
  .object({
    user: UserSchema.nullable().openapi({ description: 'Null when the caller is an API key.' }),
    apiKey: z.object({ id: z.uuid(), name: z.string() }).nullable().openapi({ description: 'The calling key, if any.' }),
    organization: OrganizationSchema,
    role: z.enum(ROLES).nullable(),
    customerId: z.string().nullable().openapi({ description: 'For the customer role: the one customer whose data the caller sees' }),
    permissions: z.array(z.enum(PERMISSIONS)),
    csrfToken: z.string().nullable().openapi({ description: 'For cookie sessions; null for API keys.' }),
    twoFactorEnabled: z.boolean(),
  })
  .openapi('Me');

export const TotpCodeSchema = z.string().regex(/^\d{6}$/, 'must be six digits').openapi({ example: '123456' });

export const TotpCodeBodySchema = z.object({ code: TotpCodeSchema }).openapi('TotpCodeBody');

/** RFC 4226 asks for at least 128 bits of secret: 26 base32 characters. */
const TotpSecretSchema = z
  .string()
  .trim()
  .transform((s) => s.toUpperCase().replace(/=+$/, ''))
  .pipe(z.string().regex(/^[A-Z2-7]{26,128}$/, 'must be a base32 secret of at least 128 bits (from POST /api/auth/totp/setup)'));

export const TotpEnableBodySchema = z.object({ secret: TotpSecretSchema, code: TotpCodeSchema }).openapi('TotpEnableBody');

export const TotpSetupSchema = z
  .object({
    secret: z.string().openapi({ description: 'Base32 secret; send it back with a code to POST /api/auth/totp/enable.' }),
    otpauthUrl: z.string().openapi({ description: 'otpauth:// URL to show as a QR code.' }),
  })
  .openapi('TotpSetup');

export const TwoFactorStatusSchema = z.object({ twoFactorEnabled: z.boolean() }).openapi('TwoFactorStatus');
