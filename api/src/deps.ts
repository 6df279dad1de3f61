import type { KeyRing } from '@keelson/common/codec';
import type { Database } from '@keelson/db';
import type { Client } from '@temporalio/client';
import type { KycTimeline } from '@keelson/activities/kyc/types';
import type { TicketTimelineConfig } from '@keelson/activities/tickets/types';
import type pg from 'pg';

/**
 * Connections of an API process's Postgres pool. When every start held one for its audit insert
 * while Temporal answered other starts, at 64 starts in flight a pool of 10 had up to 39 queries
 * waiting for a connection (bench/README.md); start rows now go out grouped, after the answer
 * (decisions 0020, 0037). 20 leaves Postgres's default 100 connections room for a worker, a
 * second API process and the tools.
 */
export const API_DB_POOL_SIZE = 20;

/** Everything the API needs from the outside world; built by server.ts, or by tests. */
export interface AppDeps {
  db: Database;
  /** For LISTEN/NOTIFY of run output. */
  pool: pg.Pool;
  temporal: Client;
  keys: KeyRing;
  config: AppConfig;
  /**
   * "Now" for billing dates the API writes (a subscription's start and anchor, a cancellation's
   * end); the real clock unless a test moves it, as it moves the worker's (`billing.now`).
   */
  now?: () => Date;
}

/** The API's clock (see `AppDeps.now`). */
export const nowOf = (deps: Pick<AppDeps, 'now'>): Date => deps.now?.() ?? new Date();

export interface AppConfig {
  namespace: string;
  /** Task queue workflows are started on (KEELSON_CORE_TASK_QUEUE). */
  coreTaskQueue: string;
  cookieSecure: boolean;
  codecCorsOrigins: string[];
  temporalUiUrl: string;
  /** Peers whose X-Forwarded-For is believed (the web app's server, a load balancer). */
  trustedProxies?: string[];
  /** Bearer token GET /metrics requires; unset: /metrics is open (it holds no tenant data). */
  metricsToken?: string;
  /** Failed logins allowed per (ip, email) per window before 429. */
  loginRateLimit?: { max: number; windowMs: number };
  /** KYC case durations (reminders, SLA, expiry, validity, retention); defaults in DEFAULT_KYC_TIMELINE. Tests scale them down. */
  kycTimeline?: Partial<KycTimeline>;
  /** How long an order of a product that requires KYC waits for an approval before it is cancelled (default 14 days). */
  orderKycTimeoutMs?: number;
  /** Ticket SLA deadlines by priority, auto-close and reopen window; defaults in DEFAULT_TICKET_TIMELINE. Tests scale them down. */
  ticketTimeline?: TicketTimelineConfig;
  /** How long one minute of a stack's drift interval lasts (default 60 000 ms); tests stretch or shrink it. */
  terraformDriftMinuteMs?: number;
  /** Stripe's API base URL (default Stripe's own); stripe-mock in tests and `npm run dev`. */
  stripeApiUrl?: string;
  /** Each organization's payments reconciliation interval (default an hour); tests use seconds. */
  paymentsReconcileEveryMs?: number;
}
