import { z } from 'zod';

/**
 * The web server's settings, validated once at start (hooks.server.ts `init`). adapter-node reads
 * its own (PORT, HOST, ORIGIN, BODY_SIZE_LIMIT…); this is only what Keelson's code needs.
 */
const WebEnvSchema = z.object({
  /** Where the Hono API listens; every /api/* request is proxied there. */
  API_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s):// URL, e.g. http://127.0.0.1:3000' })
    .default('http://127.0.0.1:3000')
    .transform((u) => u.replace(/\/+$/, '')),
});

export type WebEnv = z.infer<typeof WebEnvSchema>;

export function loadWebEnv(source: Record<string, string | undefined> = process.env): WebEnv {
  const result = WebEnvSchema.safeParse({ API_URL: source.API_URL || undefined });
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
  throw new Error(`invalid configuration:\n${lines.join('\n')}`);
}
