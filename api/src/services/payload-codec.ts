import { dataKeysFor } from '@keelson/db';
import { keelsonCodec } from '@keelson/common/temporal';
import type { EncryptionCodec } from '@keelson/common/codec';
import type { AppDeps } from '../deps';

const codecs = new WeakMap<AppDeps, EncryptionCodec>();

/** The payload codec for the API's own decoding (run views, the codec endpoint), one per app. */
export function payloadCodec(deps: AppDeps): EncryptionCodec {
  let codec = codecs.get(deps);
  if (!codec) {
    codec = keelsonCodec(deps.keys, dataKeysFor(deps.db, deps.keys));
    codecs.set(deps, codec);
  }
  return codec;
}
