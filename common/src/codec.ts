import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';

/**
 * AES-256-GCM encryption with key ids, used for Temporal payloads (PayloadCodec) and for
 * secrets at rest. Keys rotate by adding a new id as the active key while keeping old ids for
 * decryption. Layout of a sealed value: 12-byte IV | ciphertext | 16-byte tag.
 */
export interface KeyRing {
  activeKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Parses `id1:base64key,id2:base64key`; the first key is the active one. */
export function parseKeyRing(spec: string): KeyRing {
  const keys = new Map<string, Buffer>();
  let activeKeyId = '';
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const idx = part.indexOf(':');
    if (idx <= 0) throw new Error(`encryption key "${part.slice(0, 8)}…" must look like <id>:<base64 32 bytes>`);
    const id = part.slice(0, idx);
    const key = Buffer.from(part.slice(idx + 1), 'base64');
    if (key.length !== 32) throw new Error(`encryption key "${id}" must be 32 bytes (base64), got ${key.length}`);
    keys.set(id, key);
    activeKeyId ||= id;
  }
  if (!activeKeyId) throw new Error('at least one encryption key is required');
  return { activeKeyId, keys };
}

export function seal(ring: KeyRing, plain: Uint8Array, aad?: Uint8Array): { keyId: string; sealed: Buffer } {
  const key = ring.keys.get(ring.activeKeyId)!;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  if (aad) cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return { keyId: ring.activeKeyId, sealed: Buffer.concat([iv, body, cipher.getAuthTag()]) };
}

export function open(ring: KeyRing, keyId: string, sealed: Uint8Array, aad?: Uint8Array): Buffer {
  const key = ring.keys.get(keyId);
  if (!key) throw new Error(`unknown encryption key id "${keyId}"`);
  const buf = Buffer.from(sealed);
  if (buf.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value is too short');
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, IV_BYTES));
  if (aad) decipher.setAAD(aad);
  decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
  return Buffer.concat([decipher.update(buf.subarray(IV_BYTES, buf.length - TAG_BYTES)), decipher.final()]);
}

/** Secrets at rest as text: `v1.<keyId>.<base64>`. */
export function encryptSecret(ring: KeyRing, plain: string): string {
  const { keyId, sealed } = seal(ring, Buffer.from(plain, 'utf8'));
  return `v1.${keyId}.${sealed.toString('base64')}`;
}

export function decryptSecret(ring: KeyRing, text: string): string {
  const [version, keyId, body] = text.split('.');
  if (version !== 'v1' || !keyId || !body) throw new Error('not an encrypted secret');
  return open(ring, keyId, Buffer.from(body, 'base64')).toString('utf8');
}

export const ENCODING_ENCRYPTED = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Temporal payload codec: the whole payload (metadata and data) is serialized and sealed, so
 * Temporal's history holds only the key id and ciphertext.
 */
export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly ring: KeyRing) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const { keyId, sealed } = seal(this.ring, serializePayload(payload));
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: enc.encode(ENCODING_ENCRYPTED),
          [METADATA_KEY_ID]: enc.encode(keyId),
        },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || dec.decode(encoding) !== ENCODING_ENCRYPTED) return payload;
      const keyIdBytes = payload.metadata?.[METADATA_KEY_ID];
      if (!keyIdBytes) throw new Error('encrypted payload has no key id');
      if (!payload.data) throw new Error('encrypted payload has no data');
      return deserializePayload(open(this.ring, dec.decode(keyIdBytes), payload.data));
    });
  }
}

/** JSON form of a payload with base64 bytes, as the Temporal remote codec protocol uses. */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export function payloadToJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: p.data ? Buffer.from(p.data).toString('base64') : undefined };
}

export function payloadFromJson(p: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v, 'base64');
  return { metadata, data: p.data !== undefined ? Buffer.from(p.data, 'base64') : undefined };
}

function serializePayload(p: Payload): Uint8Array {
  return enc.encode(JSON.stringify(payloadToJson(p)));
}

function deserializePayload(bytes: Uint8Array): Payload {
  return payloadFromJson(JSON.parse(dec.decode(bytes)) as JsonPayload);
}
