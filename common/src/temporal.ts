import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec, type KeyRing } from './codec';

/** The data converter every Temporal client and worker in Keelson uses. */
export function keelsonDataConverter(keys: KeyRing): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(keys)] };
}
