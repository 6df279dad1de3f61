import type { DataConverter } from '@temporalio/common';
import { fileURLToPath } from 'node:url';
import { EncryptionCodec, type DataKeys, type KeyRing } from './codec';
import { currentTenant } from './tenant-scope';

/** The module with Keelson's failure converter; workflow bundles must be built with it too. */
export const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

/**
 * The data converter every Temporal client and worker in Keelson uses: payloads sealed by the
 * codec (with each organization's data key when `dataKeys` is given, see codec.ts), and failures
 * with their message and stack trace encoded (and so sealed) as well.
 */
export function keelsonDataConverter(keys: KeyRing, dataKeys?: DataKeys): DataConverter {
  return { payloadCodecs: [keelsonCodec(keys, dataKeys)], failureConverterPath: FAILURE_CONVERTER_PATH };
}

/** The payload codec: the request's organization (API, webhooks) first, then what the codec learns. */
export function keelsonCodec(keys: KeyRing, dataKeys?: DataKeys): EncryptionCodec {
  return new EncryptionCodec(keys, { dataKeys, tenantOf: () => currentTenant() });
}
