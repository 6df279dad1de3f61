import { request, type Fetch } from '$lib/api/request';
import type {
  Customer,
  CustomerInput,
  CustomerList,
  CustomerUserList,
  Order,
  OrderList,
  OrderStatus,
  PlacedOrder,
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
