import { z } from 'zod';
import { parseKeyRing, type KeyRing } from './codec';

/**
 * Validates a process's environment once at start. A missing or malformed setting stops the
 * process with a message naming each offending variable.
 */
export function parseEnv<T extends z.ZodRawShape>(shape: T, source: NodeJS.ProcessEnv = process.env): z.infer<z.ZodObject<T>> {
  const result = z.object(shape).safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
  throw new Error(`invalid configuration:\n${lines.join('\n')}`);
}

/** `KEELSON_ENCRYPTION_KEYS`: `<id>:<base64 32 bytes>[,<older id>:<key>…]`, first one active. */
export const keyRingSetting = z.string({ error: 'is required (e.g. k1:<32 random bytes, base64>)' }).transform((spec, ctx): KeyRing => {
  try {
    return parseKeyRing(spec);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

export const temporalSettings = {
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  /** The core task queue; the API starts workflows on it and the core worker serves it. */
  KEELSON_CORE_TASK_QUEUE: z.string().regex(/^[\w.-]+$/).default('core'),
};

export const databaseUrlSetting = z.url({ error: 'must be a postgres:// URL' });
