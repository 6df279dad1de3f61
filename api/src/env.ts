import { databaseUrlSetting, keyRingSetting, parseEnv, temporalSettings } from '@keelson/common/env';
import { z } from 'zod';

export function loadApiEnv(source: NodeJS.ProcessEnv = process.env) {
  return parseEnv(
    {
      ...temporalSettings,
      DATABASE_URL: databaseUrlSetting,
      KEELSON_ENCRYPTION_KEYS: keyRingSetting,
      PORT: z.coerce.number().int().min(1).max(65535).default(3000),
      HOST: z.string().default('127.0.0.1'),
      /** Origins allowed to call the codec endpoint from a browser (Temporal's UI). */
      CODEC_CORS_ORIGINS: z.string().default('http://localhost:8233').transform((s) => s.split(',').filter(Boolean)),
      /** Base URL of Temporal's UI, for links from a run to the same run there. */
      TEMPORAL_UI_URL: z.string().default('http://localhost:8233'),
      /** Peers whose X-Forwarded-For names the client (default: this host, where the web app runs). */
      TRUSTED_PROXIES: z
        .string()
        .default('127.0.0.1,::1,::ffff:127.0.0.1')
        .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)),
      /** Secure cookies need HTTPS; turn off only for plain-HTTP development. */
      COOKIE_SECURE: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
      /** When set, GET /metrics needs `Authorization: Bearer <this>` (Prometheus' bearer_token). */
      KEELSON_METRICS_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
      /** Stripe's API base URL: Stripe itself by default; stripe-mock in `npm run dev` and the tests. */
      KEELSON_STRIPE_API_URL: z.string().url().optional(),
      /** How often each organization's payments are reconciled with Stripe (ms; default an hour). */
      KEELSON_PAYMENTS_RECONCILE_MS: z.coerce.number().int().min(1000).default(3_600_000),
      /** How often the run audit sweep looks for start rows a dead process left unwritten (ms; decision 0037). */
      KEELSON_RUN_AUDIT_SWEEP_MS: z.coerce.number().int().min(100).default(60_000),
      /** How old a run must be before the sweep looks at it (ms); its own process writes its row at once. */
      KEELSON_RUN_AUDIT_MARGIN_MS: z.coerce.number().int().min(0).default(15_000),
    },
    source,
  );
}
export type ApiEnv = ReturnType<typeof loadApiEnv>;
