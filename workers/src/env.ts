import { databaseUrlSetting, keyRingSetting, parseEnv, temporalSettings } from '@keelson/common/env';
import { z } from 'zod';

export function loadWorkerEnv(source: NodeJS.ProcessEnv = process.env) {
  return parseEnv(
    {
      ...temporalSettings,
      DATABASE_URL: databaseUrlSetting,
      KEELSON_ENCRYPTION_KEYS: keyRingSetting,
      /** Node ids whose Docker task queues this process serves (comma-separated); empty for core only. */
      KEELSON_NODE_IDS: z
        .string()
        .default('')
        .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)),
      /** Whether this process also serves the core task queue. */
      KEELSON_CORE_WORKER: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
      DOCKER_SOCKET: z.string().default('/var/run/docker.sock'),
      KEELSON_LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'),
    },
    source,
  );
}
export type WorkerEnv = ReturnType<typeof loadWorkerEnv>;
