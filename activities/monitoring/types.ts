/**
 * What the evaluator tells an alert workflow, and what the workflow and its activities exchange.
 * Pure types: workflow code imports them.
 */

export type AlertSeverityName = 'info' | 'warning' | 'critical';
export type AlertKindName = 'metric' | 'nodata' | 'unreachable';

/**
 * One evaluation of one rule on one resource:
 * - `breach`: past the threshold; `between`: not past it, not back past the clear threshold;
 *   `clear`: back past the clear threshold (for a "no data" alert: data arrived again);
 * - `nodata`: no sample recently (the metric alert holds; a "no data" alert may start);
 * - `inhibited`: what it runs on is down or in maintenance, so it says nothing either way (holds);
 * - `gone`: the rule or the resource went away, or the resource was stopped on purpose: resolve.
 */
export type ObservationStatus = 'breach' | 'between' | 'clear' | 'nodata' | 'inhibited' | 'gone';

/** The rule as it was when observed, so a changed rule takes effect at once. */
export interface RuleSnapshot {
  name: string;
  metric: string;
  comparison: string;
  threshold: number;
  clearThreshold: number;
  forSeconds: number;
  repeatSeconds: number;
  severity: AlertSeverityName;
}

export interface Observation {
  /** When the evaluation looked (ms since epoch); older observations than the last seen are ignored. */
  at: number;
  status: ObservationStatus;
  value: number | null;
  rule: RuleSnapshot;
  /** Why it is inhibited or gone, for the record. */
  reason?: string;
}

export interface AlertInput {
  tenantId: string;
  ruleId: string;
  resourceId: string;
  resourceName: string;
  resourceKind: string;
  kind: AlertKindName;
  /** The evaluation interval: how stale an observation may be before the workflow looks itself. */
  intervalMs: number;
  /** Carried over continue-as-new. */
  carried?: AlertCarried;
}

export type AlertPhase = 'idle' | 'pending' | 'firing' | 'resolved';

/** The workflow's whole state, carried over continue-as-new and returned by its query. */
export interface AlertCarried {
  alertId: string | null;
  phase: AlertPhase;
  acknowledged: { by: string; comment: string; at: number } | null;
  /** Notifications sent (or attempted) so far; the next one's sequence is this + 1. */
  sequence: number;
  /** Whether the firing notification went out (a resolved one follows only then). */
  firingNotified: boolean;
  /** A firing notification held back by a silence or maintenance, to send when it ends. */
  owesFiring: boolean;
  pendingSince: number | null;
  firedAt: number | null;
  clearSince: number | null;
  lastNotifiedAt: number | null;
  last: Observation | null;
  idleSince: number | null;
}

export interface AcknowledgeInput {
  /** Set by the API from the caller, never from the request body. */
  by: string;
  comment: string;
}

export interface AlertRecordPatch {
  alertId: string;
  tenantId: string;
  ruleId: string;
  resourceId: string;
  kind: AlertKindName;
  workflowId: string;
  state: 'pending' | 'firing' | 'acknowledged' | 'resolved' | 'inactive';
  severity: AlertSeverityName;
  summary: string;
  value: number | null;
  threshold: number | null;
  startedAt: number;
  firedAt?: number | null;
  acknowledgedAt?: number | null;
  acknowledgedBy?: string | null;
  acknowledgeComment?: string | null;
  resolvedAt?: number | null;
  suppressedBy?: string | null;
}

export interface Suppression {
  suppressed: boolean;
  /** `silence <id>` or `maintenance "<name>"`. */
  reason: string | null;
  /** When the last matching silence or window ends (ms): look again then. */
  untilMs: number | null;
}

export interface NotificationRequest {
  alertId: string;
  tenantId: string;
  ruleId: string;
  resourceId: string;
  sequence: number;
  event: 'firing' | 'reminder' | 'resolved';
  /** What the message says. */
  alert: {
    ruleName: string;
    resourceName: string;
    resourceKind: string;
    kind: AlertKindName;
    severity: AlertSeverityName;
    summary: string;
    value: number | null;
    threshold: number | null;
    firedAt: number | null;
    resolvedAt: number | null;
  };
}

export interface NotificationOutcome {
  channel: string;
  status: 'sent' | 'failed' | 'skipped';
  error?: string;
}
