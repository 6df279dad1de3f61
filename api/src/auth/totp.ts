import { Secret, TOTP } from 'otpauth';

/** RFC 6238 defaults that every authenticator app understands. */
const TOTP_OPTIONS = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
const ISSUER = 'Keelson';
/** Accept the previous and next 30-second step too, for clock drift and slow typing. */
const WINDOW = 1;

/** A new random 160-bit secret, base32 as authenticator apps expect. */
export function generateTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://totp/…` URL to show as a QR code. */
export function totpUrl(secret: string, accountName: string): string {
  return new TOTP({ ...TOTP_OPTIONS, issuer: ISSUER, label: accountName, secret: Secret.fromBase32(secret) }).toString();
}

/**
 * The time step (30-second counter) the six digits belong to, within the drift window, or null
 * when they match none. Callers accept a step once: see `consumeTotpStep`.
 */
export function totpStep(secret: string, code: string, timestamp = Date.now()): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  let key: Secret;
  try {
    key = Secret.fromBase32(secret);
  } catch {
    return null;
  }
  const delta = TOTP.validate({ ...TOTP_OPTIONS, token: code, secret: key, timestamp, window: WINDOW });
  return delta === null ? null : Math.floor(timestamp / 1000 / TOTP_OPTIONS.period) + delta;
}

/** True if the six digits match the secret within the drift window. */
export function verifyTotp(secret: string, code: string, timestamp = Date.now()): boolean {
  return totpStep(secret, code, timestamp) !== null;
}
