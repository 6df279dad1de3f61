/**
 * Names shared by the API, the workers and the workflows: task queues, search attributes,
 * workflow types and workflow ID builders. Pure data — safe to import from workflow code.
 */

export const TEMPORAL_NAMESPACE_DEFAULT = 'default';

export const TaskQueue = {
  /**
   * Default name of the queue for orchestration and activities that only need Postgres. It is
   * configuration (KEELSON_CORE_TASK_QUEUE), so deployments sharing a namespace stay apart;
   * workflows never name it: their core activities run on their own task queue.
   */
  core: 'core',
  /** Host-bound activities for one Docker node, served by a worker running on that host. */
  node: (nodeId: string) => `node-${nodeId}`,
} as const;

/** Custom search attributes registered with Temporal (see scripts/temporal.sh). */
export const SearchAttribute = {
  tenant: 'KeelsonTenant',
  operation: 'KeelsonOperation',
  resources: 'KeelsonResources',
  actor: 'KeelsonActor',
} as const;

/** Types for `temporal server start-dev --search-attribute`. */
export const SEARCH_ATTRIBUTE_TYPES: Record<(typeof SearchAttribute)[keyof typeof SearchAttribute], string> = {
  KeelsonTenant: 'Keyword',
  KeelsonOperation: 'Keyword',
  KeelsonResources: 'KeywordList',
  KeelsonActor: 'Keyword',
};

/** Operation names as operators see them; each maps to one workflow type. */
export const OPERATIONS = [
  'container.create',
  'container.start',
  'container.stop',
  'container.restart',
  'container.remove',
  'system.noop',
  'vm.provision',
  'lxc.provision',
  'vm.power',
  'vm.resize',
  'vm.snapshot',
  'vm.rollback',
  'vm.destroy',
  'vm.backup',
] as const;
export type Operation = (typeof OPERATIONS)[number];

export const WorkflowType = {
  containerCreate: 'containerCreate',
  containerPower: 'containerPower',
  containerRemove: 'containerRemove',
  noop: 'noop',
  appDeployer: 'appDeployer',
  deployRelease: 'deployRelease',
  vmProvision: 'vmProvision',
  lxcProvision: 'lxcProvision',
  vmPower: 'vmPower',
  vmResize: 'vmResize',
  vmSnapshot: 'vmSnapshot',
  vmRollback: 'vmRollback',
  vmDeleteSnapshot: 'vmDeleteSnapshot',
  vmDestroy: 'vmDestroy',
  vmBackup: 'vmBackup',
  smtpTest: 'smtpTest',
  monitoringCollect: 'monitoringCollect',
  monitoringEvaluate: 'monitoringEvaluate',
  monitoringMaintenance: 'monitoringMaintenance',
  alertInstance: 'alertInstance',
  order: 'orderFulfil',
  billingRun: 'billingRun',
  invoiceSubscriptions: 'invoiceSubscriptions',
  finalizeSubscriptionPeriods: 'finalizeSubscriptionPeriods',
  issueInvoices: 'issueInvoices',
  issueInvoiceRange: 'issueInvoiceRange',
  issueCreditNote: 'issueCreditNote',
  subscription: 'subscriptionLifecycle',
  terraformRun: 'terraformRun',
  terraformDriftCheck: 'terraformDriftCheck',
  kycCase: 'kycCase',
  paymentIntentSync: 'paymentIntentSync',
  paymentsReconcile: 'paymentsReconcile',
  paymentReceipt: 'paymentReceipt',
  ticket: 'ticketLifecycle',
  serviceSuspension: 'serviceSuspension',
  dunningLadder: 'dunningLadder',
} as const;

/**
 * Operations started through their resource's own routes (a deploy is queued behind the app's
 * running one, so it has no run to return at once) rather than the generic start route.
 */
export const AppOperation = { deploy: 'app.deploy', rollback: 'app.rollback', deployer: 'app.deployer' } as const;

/** Billing operations (KeelsonOperation of billing runs). */
export const BillingOperation = {
  run: 'billing.run',
  invoice: 'billing.invoice',
  issue: 'billing.issue',
  resend: 'billing.resend',
  creditNote: 'billing.credit_note',
  subscription: 'billing.subscription',
} as const;
/** A service's suspension run and an unpaid invoice's dunning ladder (KeelsonOperation). */
export const SuspensionOperation = { reconcile: 'service.suspension' } as const;
export const DunningOperation = { ladder: 'billing.dunning' } as const;
/** Reasons a service is held; each is lifted on its own, and a service runs again only when none holds it. */
export const SUSPENSION_REASONS = ['overdue', 'staff', 'kyc'] as const;
export type SuspensionReason = (typeof SUSPENSION_REASONS)[number];
/** Signals of a service's suspension run and of an invoice's dunning ladder. */
export const SuspensionSignal = { reconcile: 'reconcileSuspension' } as const;
/** Sent to `dunning/<invoice>` when the invoice is paid (any way): the ladder ends and what it suspended comes back. */
export const DunningSignal = { invoicePaid: 'invoicePaid' } as const;
export interface InvoicePaidSignal {
  /** The payment that settled it, when there is one (a payments ledger row). */
  paymentId?: string;
}
/** Updates a subscription's run (`subscription/<id>`) accepts. */
export const SubscriptionUpdate = { changePlan: 'changePlan' } as const;
/**
 * Signals an order's run (`order/<id>`) accepts: `kycDecided` comes from the customer's KYC case
 * when it is approved or ends, so an order waiting for KYC moves on (decision 0028).
 */
export const OrderSignal = { kycDecided: 'kycDecided' } as const;
/** Terraform stack runs and drift checks, started through /api/terraform and a Schedule per stack. */
export const TerraformOperation = { apply: 'terraform.apply', destroy: 'terraform.destroy', drift: 'terraform.drift' } as const;

/** A stack's drift-check Schedule (one per stack). */
export const terraformDriftScheduleId = (stackId: string) => `terraform/${stackId}/drift`;

/** Mail operations, started through /api/mail. */
export const MailOperation = { test: 'mail.test' } as const;

/** Readable, business-keyed workflow IDs. */
export const WorkflowId = {
  containerCreate: (containerId: string) => `container/${containerId}/create`,
  containerAction: (containerId: string, action: string, requestId: string) =>
    `container/${containerId}/${action}/${requestId}`,
  containerRemove: (containerId: string) => `container/${containerId}/remove`,
  noop: (requestId: string) => `noop/${requestId}`,
  appDeployer: (appId: string) => `app/${appId}/deployer`,
  deployRelease: (appId: string, releaseId: string) => `deploy/${appId}/${releaseId}`,
  /** A Proxmox guest's provisioning run (one per guest record). */
  vmProvision: (guestId: string) => `vm/${guestId}/provision`,
  lxcProvision: (guestId: string) => `lxc/${guestId}/provision`,
  /** Day-two operations on a guest (power, resize, snapshot, one-off backup). */
  guestAction: (guestId: string, action: string, requestId: string) => `vm/${guestId}/${action}/${requestId}`,
  guestDestroy: (guestId: string) => `vm/${guestId}/destroy`,
  /** One run of a Terraform stack (plan, approval, apply). */
  terraformRun: (stackId: string, runId: string) => `terraform/${stackId}/run/${runId}`,
  /** A Terraform stack's scheduled drift check. */
  terraformDrift: (stackId: string) => `terraform/${stackId}/drift`,
  /** A test email of an organization's SMTP settings (one per request). */
  smtpTest: (tenantId: string, requestId: string) => `mail/${tenantId}/test/${requestId}`,
  /** An order's run, from its first invoice to its activated subscription. */
  order: (orderId: string) => `order/${orderId}`,
  /** One alert of a rule on a resource (`kind` nodata: its "no data" alert), started or signalled idempotently. */
  alert: (ruleId: string, resourceId: string, kind: 'metric' | 'nodata' = 'metric') =>
    kind === 'metric' ? `alert/${ruleId}/${resourceId}` : `alert/${ruleId}/${resourceId}/nodata`,
  /** The invoice of one subscription period: the billing run's per-subscription business key. */
  invoicePeriod: (subscriptionId: string, periodStart: string) => `invoice/${subscriptionId}/${periodStart}`,
  /** A batch of subscription periods of one billing run page (large runs), named by its first one. */
  invoiceBatch: (tenantId: string, subscriptionId: string, periodStart: string, size: number) => `invoice-batch/${tenantId}/${subscriptionId}/${periodStart}/${size}`,
  /** Rendering and sending the invoices holding a range of numbers a billing run finalized. */
  invoiceRange: (tenantId: string, series: string, from: number, to: number) => `invoice-range/${tenantId}/${series}/${from}-${to}`,
  /** Finalizing, rendering and sending invoices the API asked for (one request). */
  issueInvoices: (invoiceId: string, requestId: string) => `invoice/${invoiceId}/issue/${requestId}`,
  creditNote: (creditNoteId: string) => `credit-note/${creditNoteId}`,
  /** A subscription's run: its plan changes, one at a time, as Updates. */
  subscription: (subscriptionId: string) => `subscription/${subscriptionId}`,
  /** A customer's KYC case: one running at a time; a second start joins it. */
  kycCase: (customerId: string) => `kyc/${customerId}`,
  /** A Stripe PaymentIntent's run: read back and recorded whenever a webhook, a charge or reconciliation signals it. */
  paymentIntent: (tenantId: string, paymentIntentId: string) => `payment-intent/${tenantId}/${paymentIntentId}`,
  /** One reconciliation of an organization's open payment attempts (its Schedule's action). */
  paymentsReconcile: (tenantId: string) => `payments/${tenantId}/reconcile`,
  /** A payment recorded by hand: its receipt, sent once. */
  paymentReceipt: (paymentId: string) => `payment/${paymentId}/receipt`,
  /** A support ticket: its SLA clock, escalations, auto-close and reopening. */
  ticket: (ticketId: string) => `ticket/${ticketId}`,
  /** A service's suspension run (`proxmox-guest:<id>`, `container:<id>`, `app:<id>`): one at a time per service. */
  serviceSuspension: (resource: string) => `suspension/${resource}`,
  /** The power change a suspension run makes: stopping for the first hold, starting after the last is lifted. */
  suspensionAction: (resource: string, action: 'suspend' | 'restore' | 'terminate', holdId: string) => `suspension/${resource}/${action}/${holdId}`,
  /** An unpaid invoice's dunning ladder: reminders, retries, suspension, termination. */
  dunning: (invoiceId: string) => `dunning/${invoiceId}`,
} as const;

/** Each organization's payments reconciliation Schedule (hourly by default). */
export const paymentsReconcileScheduleId = (tenantId: string) => `payments/${tenantId}/reconcile`;

/** Each organization's billing Schedule (daily at its configured hour). */
export const billingScheduleId = (tenantId: string) => `billing/${tenantId}`;

/** The operation name KYC case runs carry in KeelsonOperation. */
export const KYC_OPERATION = 'kyc.case';

/** The operation name ticket runs carry in KeelsonOperation. */
export const TICKET_OPERATION = 'ticket.lifecycle';

/**
 * Monitoring's Temporal Schedules, one set per core task queue (deployments and test files that
 * share a namespace keep their own): collection, rule evaluation, retention and rollups.
 */
export const MonitoringSchedule = {
  collect: (coreTaskQueue: string) => `monitoring/${coreTaskQueue}/collect`,
  evaluate: (coreTaskQueue: string) => `monitoring/${coreTaskQueue}/evaluate`,
  maintenance: (coreTaskQueue: string) => `monitoring/${coreTaskQueue}/maintenance`,
} as const;

/** The operation name alert runs carry in KeelsonOperation. */
export const ALERT_OPERATION = 'monitoring.alert';

/** Resource references stored in the KeelsonResources search attribute. */
export const resourceRef = (kind: string, id: string) => `${kind}:${id}`;

/** Postgres NOTIFY channel carrying `<workflowId>` whenever run output is appended. */
export const RUN_LOG_CHANNEL = 'keelson_run_log';

/**
 * Keys of Postgres advisory locks (`pg_advisory_xact_lock(hashtext(key))`) that more than one
 * process takes. `nodePorts`: choosing or checking a Docker node's host ports, held until the
 * container row that claims them commits (the API's container create, an order's container).
 */
export const AdvisoryLock = {
  nodePorts: (nodeId: string) => `node-ports/${nodeId}`,
} as const;

/** Labels Keelson sets on the Docker containers it manages. */
export const DockerLabel = {
  managed: 'io.keelson.managed',
  tenant: 'io.keelson.tenant',
  container: 'io.keelson.container',
} as const;

/** An app's edge-proxy route id on its node. */
export const appRouteId = (appId: string) => `keelson-app-${appId}`;

/** Temporal's run statuses as the runs API names them. */
export const RUN_STATUSES = ['Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'ContinuedAsNew', 'TimedOut'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number] | 'Unknown';
