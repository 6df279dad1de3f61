import { databaseUrlSetting, keyRingSetting, parseEnv, temporalSettings } from '@keelson/common/env';
import { z } from 'zod';

/** The core worker's sticky cache: about 270 MiB of cached runs at half a MiB each. */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 500;

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
      /** Where node workers check app sources out (one clone per app). */
      KEELSON_WORK_DIR: z.string().default('.data/work'),
      /** The admin API of this host's edge proxy (Caddy), which node workers drive for deploys. */
      KEELSON_PROXY_ADMIN_URL: z.string().url().default('http://127.0.0.1:2019'),
      /** Addresses the edge proxy serves apps on, comma-separated. */
      KEELSON_PROXY_LISTEN: z
        .string()
        .default(':8080')
        .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)),
      /**
       * Where the edge proxy reads each app's current upstream (one file per app, renamed on a
       * switch; on this host, readable by Caddy). Default: under the system's temporary directory.
       */
      KEELSON_PROXY_UPSTREAMS_DIR: z.string().optional(),
      /** OpenTofu for Terraform stacks: its binary (default .tools/bin/tofu, else tofu on PATH) and CLI config (provider mirrors). */
      KEELSON_TOFU_BINARY: z.string().optional(),
      KEELSON_TOFU_CLI_CONFIG: z.string().optional(),
      KEELSON_LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('WARN'),
      /** Monitoring: how often metrics are collected and rules evaluated (ms), and whether this worker keeps the schedules. */
      KEELSON_METRICS_COLLECT_MS: z.coerce.number().int().min(1000).default(60_000),
      KEELSON_ALERT_EVALUATE_MS: z.coerce.number().int().min(1000).default(30_000),
      KEELSON_METRICS_MAINTENANCE_MS: z.coerce.number().int().min(1000).default(3_600_000),
      /** Raw samples and rollups are kept this long (hours, days). */
      KEELSON_METRICS_RAW_HOURS: z.coerce.number().positive().default(24),
      KEELSON_METRICS_ROLLUP_DAYS: z.coerce.number().positive().default(30),
      /** Core workers create or update the monitoring schedules at start unless this is false. */
      KEELSON_MONITORING_SCHEDULES: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
      /** Serves Prometheus metrics (Keelson's and the Temporal SDK's) on this port; unset: off. */
      KEELSON_WORKER_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
      KEELSON_WORKER_METRICS_HOST: z.string().default('127.0.0.1'),
      /**
       * A workflow bundle built ahead of time (bundleWorkflowCode with Keelson's interceptors and
       * failure converter, as test/global-setup.ts makes it): the core worker loads it instead of
       * bundling at start, so a restarted worker polls again within seconds. Unset: bundle at start.
       */
      KEELSON_WORKFLOW_BUNDLE: z.string().min(1).optional(),
      /** Stripe's API base URL: Stripe itself by default; stripe-mock in `npm run dev` and the tests. */
      KEELSON_STRIPE_API_URL: z.string().url().optional(),
      /** How long one day of a dunning ladder lasts, in ms (default a day); tests shrink it so a ladder runs in seconds. */
      KEELSON_DUNNING_DAY_MS: z.coerce.number().int().min(1).default(86_400_000),
      /** How often a dunning ladder with every step done re-reads its unpaid invoice (ms); default one ladder day. */
      KEELSON_DUNNING_RECHECK_MS: z.coerce.number().int().min(1).optional(),
      /**
       * How many workflows the core worker keeps in its sticky cache. Each costs about half a MiB;
       * the SDK's own default follows the machine's memory (2,310 on a 24 GiB machine, 1.8 GiB
       * resident with 10,000 runs waiting). A run not in the cache is replayed on its next task.
       */
      KEELSON_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(DEFAULT_MAX_CACHED_WORKFLOWS),
    },
    source,
  );
}
export type WorkerEnv = ReturnType<typeof loadWorkerEnv>;
