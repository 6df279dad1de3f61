/**
 * The API's request and response shapes, as the web app uses them: each one is derived from the
 * zod schema its route validates with (api/src/routes/<resource>/schema.ts, also the source of
 * /api/openapi.json), `z.output` for answers and `z.input` for bodies. The imports are type-only,
 * so nothing of the API is bundled; change a schema and svelte-check shows every page it breaks
 * (decision 0013). Never write a response shape here by hand.
 */
import type { z } from 'zod';

// `import type` of a schema keeps only its type: these are erased from the bundle.
import type * as ApiKeys from '../../../../api/src/routes/api-keys/schema';
import type * as Apps from '../../../../api/src/routes/apps/schema';
import type * as Audit from '../../../../api/src/routes/audit/schema';
import type * as Auth from '../../../../api/src/routes/auth/schema';
import type * as Billing from '../../../../api/src/routes/billing/schema';
import type * as Payments from '../../../../api/src/routes/billing/payments-schema';
import type * as Blueprints from '../../../../api/src/routes/blueprints/schema';
import type * as Catalog from '../../../../api/src/routes/catalog/schema';
import type * as Containers from '../../../../api/src/routes/containers/schema';
import type * as Customers from '../../../../api/src/routes/customers/schema';
import type * as Invitations from '../../../../api/src/routes/invitations/schema';
import type * as Mail from '../../../../api/src/routes/mail/schema';
import type * as Members from '../../../../api/src/routes/members/schema';
import type * as Nodes from '../../../../api/src/routes/nodes/schema';
import type * as Orders from '../../../../api/src/routes/orders/schema';
import type * as Proxmox from '../../../../api/src/routes/proxmox/schema';
import type * as Quotes from '../../../../api/src/routes/quotes/schema';
import type * as Runs from '../../../../api/src/routes/runs/schema';
import type * as Shared from '../../../../api/src/schemas';
import type * as Terraform from '../../../../api/src/routes/terraform/schema';
import type * as Tickets from '../../../../api/src/routes/tickets/schema';
import type * as Kyc from '../../../../api/src/routes/kyc/schema';

/** What a route answers with. */
type Out<S extends z.ZodType> = z.output<S>;
/** What a route accepts as its body (defaults may be left out). */
type In<S extends z.ZodType> = z.input<S>;

// Sign-in and the caller (api/src/routes/auth).
/** `POST /api/auth/login` and `/totp/verify`. */
export type SignedIn = Out<typeof Auth.SignedInSchema>;
export type User = SignedIn['user'];
export type Organization = SignedIn['organization'];
/** `GET /api/auth/me`: also answers for API keys, where `user` and `csrfToken` are null. */
export type Me = Out<typeof Auth.MeSchema>;
export type LoginBody = In<typeof Auth.LoginBodySchema>;

// Runs (api/src/routes/runs).
export { RUN_STATUSES } from '@keelson/common/constants';
export type RunSummary = Out<typeof Runs.RunSummarySchema>;
export type RunStatus = RunSummary['status'];
export type RunDetail = Out<typeof Runs.RunDetailSchema>;
export type RunStep = Out<typeof Runs.RunStepSchema>;
export type StepState = RunStep['state'];
export type RunError = NonNullable<RunStep['error']>;
export type ApprovalDecision = Out<typeof Runs.ApprovalDecisionSchema>;
export type RunList = Out<typeof Runs.ListRunsResponse>;
export type StartedRun = Out<typeof Shared.StartedRunSchema>;
export type OperationCatalog = Out<typeof Runs.OperationCatalogSchema>;
export type Operation = OperationCatalog['items'][number];
export type Accepted = Out<typeof Runs.AcceptedSchema>;
export type RetriedRun = Out<typeof Runs.RetriedRunSchema>;
/** The data of the run stream's events (`GET /api/runs/{id}/stream`), by event name. */
export type RunLogChunk = Out<typeof Runs.RunLogChunkSchema>;
export type HistoryBatch = Out<typeof Runs.HistoryBatchSchema>;
export type StepsSnapshot = Out<typeof Runs.StepsSnapshotSchema>;
export type RunEnd = Out<typeof Runs.RunEndSchema>;

// Docker nodes, blueprints and containers.
export type KeelsonNode = Out<typeof Nodes.NodeSchema>;
export type NodeCapacity = NonNullable<KeelsonNode['capacity']>;
export type NodeList = Out<typeof Nodes.NodeListSchema>;
export type Blueprint = Out<typeof Blueprints.BlueprintSchema>;
export type BlueprintList = Out<typeof Blueprints.BlueprintListSchema>;
export type PortMapping = Blueprint['ports'][number];
/** `POST`/`PUT /api/blueprints`; `env` is write-only (the API answers with `envKeys`). */
export type BlueprintInput = In<typeof Blueprints.BlueprintBody>;
export type Container = Out<typeof Containers.ContainerSchema>;
export type ContainerState = Container['state'];
export type ContainerList = Out<typeof Containers.ContainerListSchema>;
export type ContainerCreated = Out<typeof Containers.ContainerCreated>;
export type ContainerAction = In<typeof Containers.ContainerActionBody>['action'];

// Administration: members, API keys and the audit log.
export { PERMISSIONS, ROLES } from '@keelson/common/permissions';
export type Member = Out<typeof Members.MemberSchema>;
export type Role = Member['role'];
export type MemberList = Out<typeof Members.MemberListSchema>;
export type AddMemberInput = In<typeof Members.AddMemberBodySchema>;
export type ApiKey = Out<typeof ApiKeys.ApiKeySchema>;
export type Permission = ApiKey['scopes'][number];
export type ApiKeyList = Out<typeof ApiKeys.ApiKeyListSchema>;
/** `POST /api/api-keys`: `key` is the full secret, in this answer only. */
export type CreatedApiKey = Out<typeof ApiKeys.CreatedApiKeySchema>;
export type CreateApiKeyInput = In<typeof ApiKeys.CreateApiKeyBodySchema>;
export type AuditEntry = Out<typeof Audit.AuditEntrySchema>;
export type AuditPage = Out<typeof Audit.AuditPageSchema>;

// Apps deployed from git, their releases and webhook deliveries (api/src/routes/apps).
export type App = Out<typeof Apps.AppSchema>;
export type AppList = Out<typeof Apps.AppListSchema>;
/** `POST /api/apps`: `webhookSecret` is in this answer only. */
export type CreatedApp = Out<typeof Apps.CreatedAppSchema>;
export type Release = Out<typeof Apps.ReleaseSchema>;
export type ReleaseList = Out<typeof Apps.ReleaseListSchema>;
export type ReleaseStatus = Release['status'];
export type ReleaseTrigger = Release['trigger'];
export type ReleaseTimings = Release['timings'];
export type WebhookDelivery = Out<typeof Apps.DeliverySchema>;
export type WebhookDeliveryList = Out<typeof Apps.DeliveryListSchema>;
export type DeliveryOutcome = WebhookDelivery['outcome'];
export type WebhookSecret = Out<typeof Apps.WebhookSecretSchema>;
/** `POST /api/apps`'s body as the form sends it (every default spelled out); `env` is write-only. */
export type AppInput = Out<typeof Apps.AppBody>;
/** `PATCH /api/apps/{id}`: only what changes; `env`, when given, replaces every variable. */
export type AppPatch = In<typeof Apps.AppPatch>;
export type HealthCheck = AppInput['healthCheck'];
/** `POST /api/apps/{id}/deploys` and `/rollback`: the release is queued behind any running deploy. */
export type QueuedDeploy = Out<typeof Apps.QueuedDeploySchema>;

// Proxmox clusters and their guests (api/src/routes/proxmox).
/** The token secret is write-only: never in an answer. */
export type ProxmoxCluster = Out<typeof Proxmox.ClusterSchema>;
export type ProxmoxClusterList = Out<typeof Proxmox.ClusterListSchema>;
/** `POST /api/proxmox/clusters`: what the connection check saw, in this answer only. */
export type CreatedProxmoxCluster = Out<typeof Proxmox.CreatedClusterSchema>;
export type ProxmoxClusterInput = In<typeof Proxmox.ClusterBody>;
/** `PATCH /api/proxmox/clusters/{id}`: `null` clears an optional setting; no `tokenSecret` keeps the stored one. */
export type ProxmoxClusterPatch = In<typeof Proxmox.ClusterPatch>;
export type Guest = Out<typeof Proxmox.GuestSchema>;
export type GuestList = Out<typeof Proxmox.GuestListSchema>;
export type GuestKindName = Guest['kind'];
export type GuestState = Guest['state'];
export type GuestBackupSchedule = NonNullable<Guest['backupSchedule']>;
export type GuestBackupScheduleResult = Out<typeof Proxmox.BackupScheduleResult>;
/** `POST /api/proxmox/guests`'s body, as the form sends it (every default spelled out). */
export type ProvisionGuestBody = Out<typeof Proxmox.ProvisionBody>;
export type GuestPowerAction = In<typeof Proxmox.PowerGuestInput>['action'];
export type GuestBackupMode = NonNullable<In<typeof Proxmox.BackupGuestInput>['mode']>;
/** `POST /api/proxmox/guests`: recorded as `provisioning`; the run records the outcome. */
export type ProvisionedGuest = Out<typeof Proxmox.ProvisionedGuestSchema>;

// Email: the organization's SMTP server and what was sent (api/src/routes/mail).
/** The password is write-only: `passwordSet` says whether one is stored. */
export type SmtpSettings = Out<typeof Mail.SmtpSettingsSchema>;
export type SmtpSettingsState = Out<typeof Mail.SmtpSettingsStateSchema>;
/** `PUT /api/mail/smtp`: no `password` keeps the stored one, `null` removes it. */
export type SmtpSettingsInput = In<typeof Mail.SmtpSettingsBody>;
export type SmtpSecurity = SmtpSettings['security'];
export type SmtpTestResult = Out<typeof Mail.SmtpTestResultSchema>;
export type OutboundEmail = Out<typeof Mail.EmailSchema>;
export type OutboundEmailList = Out<typeof Mail.EmailListSchema>;

// Invitations (api/src/routes/members/invitations.ts, api/src/routes/invitations/).
/** An organization's open invitation (`POST /api/members` answers one). */
export type Invitation = Out<typeof Members.InvitationSchema>;
export type InvitationList = Out<typeof Members.InvitationListSchema>;
/** An invitation addressed to the signed-in person, or listed by a sign-in's `invitation_pending`. */
export type MyInvitation = Out<typeof Invitations.MyInvitationSchema>;
export type MyInvitationList = Out<typeof Invitations.MyInvitationListSchema>;
export type AnsweredInvitation = Out<typeof Invitations.AnsweredInvitationSchema>;

// Billing: customers, the catalog, quotes and orders (api/src/routes/{customers,catalog,quotes,orders}).
export type Customer = Out<typeof Customers.CustomerSchema>;
export type CustomerList = Out<typeof Customers.CustomerListSchema>;
export type CustomerContact = Customer['contacts'][number];
export type PostalAddress = Customer['address'];
/** `POST`/`PUT /api/customers`: the form sends every field. */
export type CustomerInput = Out<typeof Customers.CustomerBody>;
export type CustomerKind = Customer['kind'];
export type CustomerUser = Out<typeof Customers.CustomerUserSchema>;
export type CustomerUserList = Out<typeof Customers.CustomerUserListSchema>;
export type Product = Out<typeof Catalog.ProductSchema>;
export type ProductList = Out<typeof Catalog.ProductListSchema>;
export type ProductInput = Out<typeof Catalog.ProductBody>;
export type Plan = Out<typeof Catalog.PlanSchema>;
export type PlanInput = Out<typeof Catalog.PlanBody>;
export type PlanProvisioning = PlanInput['provisioning'];
/** `GET /api/catalog/clusters`: a cluster as the plan form needs it (name and defaults, never how to reach it). */
export type CatalogCluster = Out<typeof Catalog.ClusterChoiceSchema>;
export type CatalogClusterList = Out<typeof Catalog.ClusterChoiceListSchema>;
export type BillingCycle = Plan['prices'][number]['cycle'];
export type Quote = Out<typeof Quotes.QuoteSchema>;
export type QuoteList = Out<typeof Quotes.QuoteListSchema>;
export type QuoteStatus = Quote['status'];
export type QuoteInput = In<typeof Quotes.QuoteBody>;
export type QuoteLineInput = In<typeof Quotes.QuoteLineInput>;
export type Order = Out<typeof Orders.OrderSchema>;
export type OrderList = Out<typeof Orders.OrderListSchema>;
export type OrderStatus = Order['status'];
export type OrderService = NonNullable<Order['service']>;
/** `POST /api/orders` and `POST /api/quotes/{id}/accept` answer the order and its run. */
export type PlacedOrder = Out<typeof Orders.PlacedOrderSchema>;
export type PlaceOrderInput = In<typeof Orders.PlaceOrderBody>;
export type ServiceOptions = In<typeof Orders.ServiceOptions>;

// Billing: subscriptions, invoices, credit notes, settings, tax rules and the billing Schedule (api/src/routes/billing).
export type Subscription = Out<typeof Billing.SubscriptionSchema>;
export type SubscriptionList = Out<typeof Billing.SubscriptionListSchema>;
export type SubscriptionStatus = Subscription['status'];
export type SubscriptionListQuery = In<typeof Billing.SubscriptionListQuery>;
/** `now`, or at the end of the period already invoiced. */
export type CancelWhen = In<typeof Billing.CancelBody>['when'];
/** `POST /api/subscriptions/{id}/change-plan`: `requestId` makes a repeated request the same change. */
export type ChangePlanInput = In<typeof Billing.ChangePlanBody>;
/** A plan change: the unused part credited, the new plan charged to the period's end, as one invoice or credit note. */
export type PlanChange = Out<typeof Billing.PlanChangeSchema>;
export type InvoiceSummary = Out<typeof Billing.InvoiceSummarySchema>;
export type InvoiceList = Out<typeof Billing.InvoiceListSchema>;
export type InvoiceStatus = InvoiceSummary['status'];
export type InvoiceListQuery = In<typeof Billing.InvoiceListQuery>;
/** An invoice with its lines, the customer as billed, its credit notes and the emails sent. */
export type Invoice = Out<typeof Billing.InvoiceSchema>;
export type InvoiceLine = Invoice['lines'][number];
export type InvoiceEmail = Invoice['emails'][number];
export type VoidInvoiceInput = In<typeof Billing.VoidBody>;
/** No `lines`: the whole (remaining) invoice is credited. */
export type CreditInvoiceInput = In<typeof Billing.CreditBody>;
export type CreditNote = Out<typeof Billing.CreditNoteSchema>;
export type CreditNoteList = Out<typeof Billing.CreditNoteListSchema>;
export type CreditNoteListQuery = In<typeof Billing.CreditNoteListQuery>;
/** `POST /api/invoices/{id}/credit-notes`: the note and the run that renders and emails it. */
export type CreditedInvoice = Out<typeof Billing.CreditedSchema>;
// Payments (api/src/routes/billing/payments-schema.ts, decision 0026): the balance is derived from the ledger.
export type InvoicePayments = Out<typeof Payments.InvoicePaymentsSchema>;
export type Payment = InvoicePayments['payments'][number];
export type ManualPaymentInput = In<typeof Payments.ManualPaymentBody>;
export type ManualPaymentMethod = ManualPaymentInput['method'];
export type RecordedPayment = Out<typeof Payments.RecordedSchema>;
/** `GET /api/customers/{id}/card`: the card on file for off-session charges, or null. */
export type SavedCard = Out<typeof Payments.CardSchema>;
export type SavedCardCharge = Out<typeof Payments.SavedCardChargeSchema>;
export type CardSetup = Out<typeof Payments.SetupSchema>;
export type BillingSettings = Out<typeof Billing.BillingSettingsSchema>;
export type BillingSettingsState = Out<typeof Billing.BillingSettingsStateSchema>;
/** `PUT /api/billing/settings`: the form sends every field. */
export type BillingSettingsInput = Out<typeof Billing.BillingSettingsBody>;
export type TaxRule = Out<typeof Billing.TaxRuleSchema>;
export type TaxRuleList = Out<typeof Billing.TaxRuleListSchema>;
export type TaxRuleInput = Out<typeof Billing.TaxRuleBody>;
/** The organization's billing Schedule: paused or not (with the note), next and recent runs. */
export type BillingSchedule = Out<typeof Billing.ScheduleSchema>;
export type PauseScheduleInput = In<typeof Billing.PauseBody>;
export type BackfillInput = In<typeof Billing.BackfillBody>;
/** A reason holding a customer's service (overdue, staff, kyc) and where it stands (decision 0027). */
export type Suspension = Out<typeof Billing.SuspensionSchema>;
export type SuspensionList = Out<typeof Billing.SuspensionListSchema>;
/** The organization's dunning ladder: `{day, kind}` rungs from the due date. */
export type DunningSettings = Out<typeof Billing.DunningSettingsSchema>;
/** An invoice's dunning ladder as it runs: planned steps, what each did, its emails, the service's holds. */
export type InvoiceDunning = Out<typeof Billing.InvoiceDunningSchema>;
export type DunningStep = InvoiceDunning['steps'][number];

// Terraform stacks (api/src/routes/terraform).
/** Secret variables come back with `value: null`: they are write-only. */
export type TerraformStack = Out<typeof Terraform.StackSchema>;
export type TerraformStackList = Out<typeof Terraform.StackListSchema>;
/** A stack with its recent runs and its open drift finding. */
export type TerraformStackDetail = Out<typeof Terraform.StackDetailSchema>;
export type TerraformStackInput = In<typeof Terraform.StackBody>;
/** `null` for a variable removes it; a secret sent without a value keeps the stored one. */
export type TerraformStackChanges = In<typeof Terraform.StackPatch>;
export type TerraformRun = Out<typeof Terraform.RunSchema>;
export type TerraformStartRunInput = In<typeof Terraform.StartRunBody>;
export type TerraformStartedRun = Out<typeof Terraform.StartedStackRunSchema>;
/** What a plan would do, per resource and attribute (sensitive values already masked). */
export type TerraformPlanDiff = Out<typeof Terraform.PlanDiffSchema>;
export type TerraformResourceChange = TerraformPlanDiff['resources'][number];

// Support tickets (api/src/routes/tickets, decision 0028).
export type Ticket = Out<typeof Tickets.TicketSchema>;
export type TicketList = Out<typeof Tickets.TicketListSchema>;
export type TicketDetail = Out<typeof Tickets.TicketDetailSchema>;
export type TicketMessage = TicketDetail['messages'][number];
export type TicketView = Out<typeof Tickets.TicketViewSchema>;
export type TicketAssignees = Out<typeof Tickets.AssigneeListSchema>;
export type TicketAttachment = Out<typeof Tickets.AttachmentSchema>;
export type TicketListQuery = In<typeof Tickets.TicketListQuery>;
export type TicketOpenInput = In<typeof Tickets.OpenTicketBody>;
export type TicketPriority = Ticket['priority'];
export type TicketStatus = Ticket['status'];

// KYC cases (api/src/routes/kyc, decision 0023).
export type KycCase = Out<typeof Kyc.CaseSchema>;
export type KycCaseList = Out<typeof Kyc.CaseListSchema>;
export type KycCaseDetail = Out<typeof Kyc.CaseDetailSchema>;
export type KycCaseView = Out<typeof Kyc.CaseViewSchema>;
export type KycDocument = Out<typeof Kyc.DocumentSchema>;
export type KycDecisionInput = In<typeof Kyc.DecisionBody>;
export type KycRevokeInput = In<typeof Kyc.RevokeBody>;
export type KycDocumentKind = KycDocument['kind'];
