import { apiUrl, request, type Fetch } from '$lib/api/request';
import type {
  BackfillInput,
  CardSetup,
  SavedCardCharge,
  BillingSchedule,
  BillingSettings,
  BillingSettingsInput,
  BillingSettingsState,
  CancelWhen,
  CatalogClusterList,
  ChangePlanInput,
  CreditedInvoice,
  CreditInvoiceInput,
  CreditNote,
  CreditNoteList,
  CreditNoteListQuery,
  Customer,
  CustomerInput,
  DunningSettings,
  InvoiceDunning,
  SuspensionList,
  CustomerList,
  CustomerUserList,
  Invoice,
  InvoicePayments,
  ManualPaymentInput,
  RecordedPayment,
  SavedCard,
  InvoiceList,
  InvoiceListQuery,
  Order,
  OrderList,
  OrderStatus,
  PlacedOrder,
  PlanChange,
  PlaceOrderInput,
  Plan,
  PlanInput,
  Product,
  ProductInput,
  ProductList,
  Quote,
  QuoteInput,
  QuoteList,
  QuoteStatus,
  ServiceOptions,
  StartedRun,
  Subscription,
  SubscriptionList,
  SubscriptionListQuery,
  TaxRule,
  TaxRuleInput,
  TaxRuleList,
} from '$lib/api/types';

const enc = encodeURIComponent;

// Customers (a customer user sees only their own).
export const fetchCustomers = (fetch: Fetch, q?: string, signal?: AbortSignal) => request<CustomerList>(fetch, '/customers', { query: { q }, signal });
export const fetchCustomer = (fetch: Fetch, id: string, signal?: AbortSignal) => request<Customer>(fetch, `/customers/${enc(id)}`, { signal });
/** The tax id's format is checked for the address's country: a 400 names `taxId`. */
export const createCustomer = (fetch: Fetch, body: CustomerInput) => request<Customer>(fetch, '/customers', { method: 'POST', body });
export const updateCustomer = (fetch: Fetch, id: string, body: CustomerInput) => request<Customer>(fetch, `/customers/${enc(id)}`, { method: 'PUT', body });
export const fetchCustomerUsers = (fetch: Fetch, id: string, signal?: AbortSignal) => request<CustomerUserList>(fetch, `/customers/${enc(id)}/users`, { signal });
/** Lets a member with the `customer` role sign in for this customer. */
export const linkCustomerUser = (fetch: Fetch, id: string, userId: string) => request<unknown>(fetch, `/customers/${enc(id)}/users`, { method: 'POST', body: { userId } });
export const unlinkCustomerUser = (fetch: Fetch, id: string, userId: string) => request<void>(fetch, `/customers/${enc(id)}/users/${enc(userId)}`, { method: 'DELETE' });

// The catalog: products and their plans (customers see what can be ordered).
export const fetchProducts = (fetch: Fetch, opts: { includeInactive?: boolean } = {}, signal?: AbortSignal) =>
  request<ProductList>(fetch, '/catalog/products', { query: { includeInactive: opts.includeInactive ? 'true' : undefined }, signal });
/** Clusters a plan can provision on, for those who write plans (`catalog.manage`; no `proxmox.read` needed). */
export const fetchCatalogClusters = (fetch: Fetch, signal?: AbortSignal) => request<CatalogClusterList>(fetch, '/catalog/clusters', { signal });
export const createProduct = (fetch: Fetch, body: ProductInput) => request<Product>(fetch, '/catalog/products', { method: 'POST', body });
export const updateProduct = (fetch: Fetch, id: string, body: ProductInput) => request<Product>(fetch, `/catalog/products/${enc(id)}`, { method: 'PUT', body });
export const createPlan = (fetch: Fetch, productId: string, body: PlanInput) => request<Plan>(fetch, `/catalog/products/${enc(productId)}/plans`, { method: 'POST', body });
export const updatePlan = (fetch: Fetch, id: string, body: PlanInput) => request<Plan>(fetch, `/catalog/plans/${enc(id)}`, { method: 'PUT', body });

// Quotes: staff write and send them; the customer accepts (an order) or declines.
export const fetchQuotes = (fetch: Fetch, query: { status?: QuoteStatus; customerId?: string } = {}, signal?: AbortSignal) => request<QuoteList>(fetch, '/quotes', { query, signal });
export const fetchQuote = (fetch: Fetch, id: string, signal?: AbortSignal) => request<Quote>(fetch, `/quotes/${enc(id)}`, { signal });
export const createQuote = (fetch: Fetch, body: QuoteInput) => request<Quote>(fetch, '/quotes', { method: 'POST', body });
export const updateQuote = (fetch: Fetch, id: string, body: QuoteInput) => request<Quote>(fetch, `/quotes/${enc(id)}`, { method: 'PUT', body });
export const sendQuote = (fetch: Fetch, id: string) => request<Quote>(fetch, `/quotes/${enc(id)}/send`, { method: 'POST' });
export const withdrawQuote = (fetch: Fetch, id: string) => request<Quote>(fetch, `/quotes/${enc(id)}/withdraw`, { method: 'POST' });
export const acceptQuote = (fetch: Fetch, id: string, options: ServiceOptions) => request<PlacedOrder>(fetch, `/quotes/${enc(id)}/accept`, { method: 'POST', body: options });
export const declineQuote = (fetch: Fetch, id: string) => request<Quote>(fetch, `/quotes/${enc(id)}/decline`, { method: 'POST' });

// Orders: each one is a run (`order/<id>`) from first invoice to active subscription.
export const fetchOrders = (fetch: Fetch, query: { status?: OrderStatus; customerId?: string } = {}, signal?: AbortSignal) => request<OrderList>(fetch, '/orders', { query, signal });
export const fetchOrder = (fetch: Fetch, id: string, signal?: AbortSignal) => request<Order>(fetch, `/orders/${enc(id)}`, { signal });
export const placeOrder = (fetch: Fetch, body: PlaceOrderInput) => request<PlacedOrder>(fetch, '/orders', { method: 'POST', body });
export const acceptOrder = (fetch: Fetch, id: string, comment?: string) => request<Order>(fetch, `/orders/${enc(id)}/accept`, { method: 'POST', body: comment ? { comment } : {} });
export const rejectOrder = (fetch: Fetch, id: string, comment?: string) => request<Order>(fetch, `/orders/${enc(id)}/reject`, { method: 'POST', body: comment ? { comment } : {} });
export const cancelOrder = (fetch: Fetch, id: string) => request<Order>(fetch, `/orders/${enc(id)}/cancel`, { method: 'POST' });

// Subscriptions: billed in advance per period by the billing run.
export const fetchSubscriptions = (fetch: Fetch, query: SubscriptionListQuery = {}, signal?: AbortSignal) => request<SubscriptionList>(fetch, '/subscriptions', { query, signal });
export const fetchSubscription = (fetch: Fetch, id: string, signal?: AbortSignal) => request<Subscription>(fetch, `/subscriptions/${enc(id)}`, { signal });
/** Prorated at once: the answer names the invoice or credit note it issued. */
export const changeSubscriptionPlan = (fetch: Fetch, id: string, body: ChangePlanInput) => request<PlanChange>(fetch, `/subscriptions/${enc(id)}/change-plan`, { method: 'POST', body });
export const cancelSubscription = (fetch: Fetch, id: string, when: CancelWhen) => request<Subscription>(fetch, `/subscriptions/${enc(id)}/cancel`, { method: 'POST', body: { when } });

// Invoices: draft → finalized (numbered, PDF, emailed) → paid or void; credit notes against them.
export const fetchInvoices = (fetch: Fetch, query: InvoiceListQuery = {}, signal?: AbortSignal) => request<InvoiceList>(fetch, '/invoices', { query, signal });
export const fetchInvoice = (fetch: Fetch, id: string, signal?: AbortSignal) => request<Invoice>(fetch, `/invoices/${enc(id)}`, { signal });
/** Numbering, the PDF and the email happen in the run this starts. */
export const finalizeInvoice = (fetch: Fetch, id: string) => request<StartedRun>(fetch, `/invoices/${enc(id)}/finalize`, { method: 'POST' });
export const resendInvoice = (fetch: Fetch, id: string) => request<StartedRun>(fetch, `/invoices/${enc(id)}/resend`, { method: 'POST' });
export const voidInvoice = (fetch: Fetch, id: string, reason: string) => request<Invoice>(fetch, `/invoices/${enc(id)}/void`, { method: 'POST', body: { reason } });
export const markInvoicePaid = (fetch: Fetch, id: string) => request<Invoice>(fetch, `/invoices/${enc(id)}/mark-paid`, { method: 'POST' });
/** The customer's card on file (brand, last four digits, expiry), or null. */
export const fetchSavedCard = (fetch: Fetch, customerId: string, signal?: AbortSignal) => request<SavedCard>(fetch, `/customers/${enc(customerId)}/card`, { signal });
/** A SetupIntent for the card form (Stripe.js confirms it), then the confirmed card kept. */
export const startCardSetup = (fetch: Fetch, customerId: string) => request<CardSetup>(fetch, `/customers/${enc(customerId)}/card/setup`, { method: 'POST' });
export const saveCard = (fetch: Fetch, customerId: string, paymentMethodId: string) => request<SavedCard>(fetch, `/customers/${enc(customerId)}/card`, { method: 'PUT', body: { paymentMethodId } });
/** "Pay now" with the card on file. */
export const payWithSavedCard = (fetch: Fetch, invoiceId: string) => request<SavedCardCharge>(fetch, `/invoices/${enc(invoiceId)}/pay/saved-card`, { method: 'POST' });
/** Payments and the balance, from the ledger. */
export const fetchInvoicePayments = (fetch: Fetch, id: string, signal?: AbortSignal) => request<InvoicePayments>(fetch, `/invoices/${enc(id)}/payments`, { signal });
/** A bank transfer or cash received by hand; more than owed becomes the customer's credit. */
export const recordInvoicePayment = (fetch: Fetch, id: string, body: ManualPaymentInput) => request<RecordedPayment>(fetch, `/invoices/${enc(id)}/payments`, { method: 'POST', body });
/** The invoice's dunning ladder as it runs: steps, emails, the service's suspension (decision 0027). */
export const fetchInvoiceDunning = (fetch: Fetch, id: string, signal?: AbortSignal) => request<InvoiceDunning>(fetch, `/invoices/${enc(id)}/dunning`, { signal });
export const fetchDunningSettings = (fetch: Fetch, signal?: AbortSignal) => request<DunningSettings>(fetch, '/billing/dunning', { signal });
export const saveDunningSettings = (fetch: Fetch, body: DunningSettings) => request<DunningSettings>(fetch, '/billing/dunning', { method: 'PUT', body });
/** The holds on the subscription's service (overdue, staff, kyc), newest first. */
export const fetchSuspensions = (fetch: Fetch, subscriptionId: string, signal?: AbortSignal) => request<SuspensionList>(fetch, `/subscriptions/${enc(subscriptionId)}/suspensions`, { signal });
/** Suspends the service by hand (reason `staff`); its suspension run stops it. */
export const suspendService = (fetch: Fetch, subscriptionId: string, note: string) => request<SuspensionList>(fetch, `/subscriptions/${enc(subscriptionId)}/suspend`, { method: 'POST', body: { note } });
/** Lifts the staff suspension; the service runs again only if nothing else holds it. */
export const unsuspendService = (fetch: Fetch, subscriptionId: string) => request<SuspensionList>(fetch, `/subscriptions/${enc(subscriptionId)}/unsuspend`, { method: 'POST' });
export const creditInvoice = (fetch: Fetch, id: string, body: CreditInvoiceInput) => request<CreditedInvoice>(fetch, `/invoices/${enc(id)}/credit-notes`, { method: 'POST', body });
export const fetchCreditNotes = (fetch: Fetch, query: CreditNoteListQuery = {}, signal?: AbortSignal) => request<CreditNoteList>(fetch, '/credit-notes', { query, signal });
export const fetchCreditNote = (fetch: Fetch, id: string, signal?: AbortSignal) => request<CreditNote>(fetch, `/credit-notes/${enc(id)}`, { signal });
/** Where the browser loads a document's PDF (same origin, with the session cookie). */
export const invoicePdfUrl = (id: string) => apiUrl(`/invoices/${enc(id)}/pdf`);
export const creditNotePdfUrl = (id: string) => apiUrl(`/credit-notes/${enc(id)}/pdf`);

// The organization's billing profile, tax rules and the billing Schedule (staff only).
export const fetchBillingSettings = (fetch: Fetch, signal?: AbortSignal) => request<BillingSettingsState>(fetch, '/billing/settings', { signal });
export const putBillingSettings = (fetch: Fetch, body: BillingSettingsInput) => request<BillingSettings>(fetch, '/billing/settings', { method: 'PUT', body });
export const fetchTaxRules = (fetch: Fetch, signal?: AbortSignal) => request<TaxRuleList>(fetch, '/billing/tax-rules', { signal });
export const createTaxRule = (fetch: Fetch, body: TaxRuleInput) => request<TaxRule>(fetch, '/billing/tax-rules', { method: 'POST', body });
export const updateTaxRule = (fetch: Fetch, id: string, body: TaxRuleInput) => request<TaxRule>(fetch, `/billing/tax-rules/${enc(id)}`, { method: 'PUT', body });
export const deleteTaxRule = (fetch: Fetch, id: string) => request<void>(fetch, `/billing/tax-rules/${enc(id)}`, { method: 'DELETE' });
export const fetchBillingSchedule = (fetch: Fetch, signal?: AbortSignal) => request<BillingSchedule>(fetch, '/billing/schedule', { signal });
export const pauseBillingSchedule = (fetch: Fetch, note?: string) => request<BillingSchedule>(fetch, '/billing/schedule/pause', { method: 'POST', body: note ? { note } : {} });
export const resumeBillingSchedule = (fetch: Fetch) => request<BillingSchedule>(fetch, '/billing/schedule/resume', { method: 'POST' });
export const triggerBillingRun = (fetch: Fetch) => request<BillingSchedule>(fetch, '/billing/schedule/trigger', { method: 'POST' });
export const backfillBillingRuns = (fetch: Fetch, body: BackfillInput) => request<BillingSchedule>(fetch, '/billing/schedule/backfill', { method: 'POST', body });
