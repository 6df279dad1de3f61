import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import type { SerializationContext } from '@temporalio/common/lib/converter/serialization-context';

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
/** The organization a payload belongs to; its data is sealed with that organization's data key. */
export const METADATA_TENANT = 'keelson-tenant';

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Organizations' data keys (envelope encryption): each organization has its own AES-256 keys,
 * stored sealed under the key ring. `db/src/data-keys.ts` keeps them in Postgres.
 */
export interface DataKeys {
  /** The key new payloads of the organization are sealed with (made on first use). */
  active(tenantId: string): Promise<{ version: number; key: Buffer }>;
  /** A key by version, to open older payloads; null if there is none. */
  get(tenantId: string, version: number): Promise<Buffer | null>;
}

/** The payload's owner, as the codec learns it (see `EncryptionCodec`). */
export type TenantResolver = (payload: Payload, context: SerializationContext | undefined) => string | undefined;

/** Thrown when a payload cannot be opened by this codec's caller. */
export class ForeignPayloadError extends Error {}

const aadFor = (tenantId: string, version: number) => enc.encode(`keelson-payload:${tenantId}:${version}`);

/**
 * Temporal payload codec: the whole payload (metadata and data) is serialized and sealed, so
 * Temporal's history holds only the owner, the key id and ciphertext.
 *
 * With `dataKeys`, a payload is sealed with its organization's data key and bound to it (the
 * organization id is in the metadata and in the AEAD's associated data, so changing it breaks the
 * seal). The organization comes from `tenantOf` (the API's request scope, the workflow whose
 * payloads these are, learned from what was decoded for it, or a `tenantId` field in the payload
 * itself); a payload with no organization — and every payload without `dataKeys` — is sealed with
 * the key ring directly, as before per-organization keys. Both kinds always open.
 */
export class EncryptionCodec implements PayloadCodec {
  /** Organization of each workflow whose payloads were decoded here (bounded; oldest dropped). */
  private readonly owners = new Map<string, string>();

  constructor(
    private readonly ring: KeyRing,
    private readonly options: { dataKeys?: DataKeys; tenantOf?: TenantResolver } = {},
  ) {}

  /** Who owns this payload, if anyone can tell. */
  private ownerOf(payload: Payload, context: SerializationContext | undefined): string | undefined {
    const fromScope = this.options.tenantOf?.(payload, context);
    if (fromScope) return fromScope;
    const workflowId = context?.workflowId;
    if (workflowId && this.owners.has(workflowId)) return this.owners.get(workflowId);
    return tenantField(payload);
  }

  private remember(context: SerializationContext | undefined, tenantId: string) {
    const workflowId = context?.workflowId;
    if (!workflowId || this.owners.get(workflowId) === tenantId) return;
    if (this.owners.size >= 50_000) this.owners.delete(this.owners.keys().next().value!);
    this.owners.set(workflowId, tenantId);
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (payload): Promise<Payload> => {
        const tenantId = this.options.dataKeys ? this.ownerOf(payload, context) : undefined;
        if (tenantId) {
          const { version, key } = await this.options.dataKeys!.active(tenantId);
          this.remember(context, tenantId);
          return {
            metadata: {
              [METADATA_ENCODING_KEY]: enc.encode(ENCODING_ENCRYPTED),
              [METADATA_KEY_ID]: enc.encode(`org-v${version}`),
              [METADATA_TENANT]: enc.encode(tenantId),
            },
            data: sealWith(key, serializePayload(payload), aadFor(tenantId, version)),
          };
        }
        const { keyId, sealed } = seal(this.ring, serializePayload(payload));
        return {
          metadata: {
            [METADATA_ENCODING_KEY]: enc.encode(ENCODING_ENCRYPTED),
            [METADATA_KEY_ID]: enc.encode(keyId),
          },
          data: sealed,
        };
      }),
    );
  }

  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (payload) => {
        const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
        if (!encoding || dec.decode(encoding) !== ENCODING_ENCRYPTED) return payload;
        const keyIdBytes = payload.metadata?.[METADATA_KEY_ID];
        if (!keyIdBytes) throw new Error('encrypted payload has no key id');
        if (!payload.data) throw new Error('encrypted payload has no data');
        const tenantId = payloadTenant(payload);
        if (tenantId) {
          const version = Number(/^org-v(\d+)$/.exec(dec.decode(keyIdBytes))?.[1]);
          const key = this.options.dataKeys && Number.isInteger(version) ? await this.options.dataKeys.get(tenantId, version) : null;
          if (!key) throw new ForeignPayloadError(`no data key ${dec.decode(keyIdBytes)} for this payload's organization`);
          const plain = openWith(key, payload.data, aadFor(tenantId, version));
          this.remember(context, tenantId);
          return deserializePayload(plain);
        }
        return deserializePayload(open(this.ring, dec.decode(keyIdBytes), payload.data));
      }),
    );
  }
}

/** The organization an encrypted payload is bound to, or undefined for ring-sealed (legacy, system) ones. */
export function payloadTenant(payload: Payload): string | undefined {
  const bytes = payload.metadata?.[METADATA_TENANT];
  return bytes ? dec.decode(bytes) : undefined;
}

/** Keelson's run inputs carry `tenantId` (RunContext): the owner of a payload nobody else names. */
function tenantField(payload: Payload): string | undefined {
  if (!payload.data || payload.data.length > 1_000_000) return undefined;
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  if (!encoding || dec.decode(encoding) !== 'json/plain') return undefined;
  try {
    const value = JSON.parse(dec.decode(payload.data)) as { tenantId?: unknown } | null;
    return typeof value?.tenantId === 'string' && /^[0-9a-f-]{36}$/i.test(value.tenantId) ? value.tenantId : undefined;
  } catch {
    return undefined;
  }
}

function sealWith(key: Buffer, plain: Uint8Array, aad: Uint8Array): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

function openWith(key: Buffer, sealed: Uint8Array, aad: Uint8Array): Buffer {
  const buf = Buffer.from(sealed);
  if (buf.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value is too short');
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, IV_BYTES));
  decipher.setAAD(aad);
  decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
  return Buffer.concat([decipher.update(buf.subarray(IV_BYTES, buf.length - TAG_BYTES)), decipher.final()]);
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
