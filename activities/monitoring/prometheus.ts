import client from 'prom-client';

/**
 * Keelson's own metrics, on prom-client's default registry (one per process): the API serves them
 * at /metrics, each worker process on its metrics port (with the Temporal SDK's worker metrics
 * beside them). Defined once here so the names are the same wherever they are counted.
 */
export const registry = client.register;

let defaults = false;
/** Node.js process metrics (CPU, memory, event loop lag, GC) under `keelson_`; once per process. */
export function collectProcessMetrics(): void {
  if (defaults) return;
  defaults = true;
  client.collectDefaultMetrics({ register: registry, prefix: 'keelson_' });
}

function metric<T>(name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export const httpRequestDuration = metric(
  'keelson_http_request_duration_seconds',
  () => new client.Histogram({ name: 'keelson_http_request_duration_seconds', help: 'API request durations by method, route pattern and status', labelNames: ['method', 'route', 'status'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] }),
);

export const runsStarted = metric('keelson_runs_started_total', () => new client.Counter({ name: 'keelson_runs_started_total', help: 'Runs started through the API, by operation', labelNames: ['operation'] }));
export const runsCompleted = metric('keelson_runs_completed_total', () => new client.Counter({ name: 'keelson_runs_completed_total', help: 'Runs that completed, by operation (counted by the worker that ran their last task)', labelNames: ['operation'] }));
export const runsFailed = metric('keelson_runs_failed_total', () => new client.Counter({ name: 'keelson_runs_failed_total', help: 'Runs that failed, by operation', labelNames: ['operation'] }));

export const webhookDeliveries = metric(
  'keelson_webhook_deliveries_total',
  () => new client.Counter({ name: 'keelson_webhook_deliveries_total', help: 'Webhook deliveries: incoming (push webhooks, by provider and outcome) and outgoing (alert webhooks)', labelNames: ['direction', 'provider', 'outcome'] }),
);
export const notificationsSent = metric('keelson_alert_notifications_sent_total', () => new client.Counter({ name: 'keelson_alert_notifications_sent_total', help: 'Alert notifications delivered, by channel type and event', labelNames: ['channel', 'event'] }));
export const notificationFailures = metric(
  'keelson_alert_notification_failures_total',
  () => new client.Counter({ name: 'keelson_alert_notification_failures_total', help: 'Alert notification attempts that failed, by channel type and whether it was the last attempt', labelNames: ['channel', 'final'] }),
);
export const metricsCollected = metric('keelson_metrics_samples_total', () => new client.Counter({ name: 'keelson_metrics_samples_total', help: 'Resource samples stored by collections, by source', labelNames: ['source'] }));
export const ruleEvaluationDuration = metric('keelson_alert_rule_evaluation_seconds', () => new client.Histogram({ name: 'keelson_alert_rule_evaluation_seconds', help: 'Time to evaluate one alert rule over its resources', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] }));
