import type { DataConverter } from '@temporalio/common';
import { fileURLToPath } from 'node:url';
import { EncryptionCodec, type KeyRing } from './codec';

/** The module with Keelson's failure converter; workflow bundles must be built with it too. */
export const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

/**
 * The data converter every Temporal client and worker in Keelson uses: payloads sealed by the
 * codec, and failures with their message and stack trace encoded (and so sealed) as well.
 */
export function keelsonDataConverter(keys: KeyRing): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(keys)], failureConverterPath: FAILURE_CONVERTER_PATH };
}
