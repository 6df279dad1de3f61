/**
 * Roles and permission strings. A role is a fixed set of permissions; API keys carry scopes that
 * are a subset of their creator's permissions at creation time.
 */
export const PERMISSIONS = [
  'workflow.read',
  'workflow.payloads',
  'workflow.start',
  'workflow.cancel',
  'workflow.terminate',
  'workflow.retry',
  'workflow.signal',
  'node.read',
  'node.manage',
  'blueprint.read',
  'blueprint.manage',
  'container.read',
  'container.manage',
  'container.exec',
  'app.read',
  'app.manage',
  'app.deploy',
  /** See Proxmox clusters and their VMs and containers. */
  'proxmox.read',
  /** Provision and operate VMs and containers on the organization's clusters. */
  'proxmox.manage',
  /** Add, change and remove clusters: they hold API tokens, so only admins and owners. */
  'proxmox.cluster.manage',
  'apikey.read',
  'apikey.manage',
  'member.read',
  'member.manage',
  'audit.read',
  /** See the emails the organization sent and whether they went out. */
  'mail.read',
  /** Change the organization's SMTP settings (they hold a password) and send test emails. */
  'mail.manage',
  /** See metrics, charts, alerts, rules, silences and maintenance windows. */
  'monitoring.read',
  /** Create and change alert rules, silences and maintenance windows. */
  'alert.manage',
  /** Acknowledge a firing alert. */
  'alert.acknowledge',
  /** See customers (a customer user: only their own). */
  'customer.read',
  /** Create and change customers, their contacts and who may sign in for them. */
  'customer.manage',
  /** See products and plans. */
  'catalog.read',
  /** Create and change products and plans. */
  'catalog.manage',
  /** See subscriptions, invoices, credit notes, tax rules and the billing schedule (a customer user: only their own). */
  'billing.read',
  /** Change money: subscriptions, invoices (finalize, void, credit), tax rules, billing settings and runs. */
  'billing.manage',
  /** Order a plan and accept or decline a quote (a customer user: for their own customer). */
  'order.place',
  /** See Terraform stacks, their runs, plans, outputs and drift. */
  'terraform.read',
  /** Create stacks, change their variables and start plans, applies and destroys. */
  'terraform.manage',
  /** See KYC cases and their history (a customer user: only their own). */
  'kyc.read',
  /** Upload identity documents and submit them for review (a customer user: for their own customer). */
  'kyc.submit',
  /** Open cases, view documents, approve and reject (never for a customer the reviewer belongs to). */
  'kyc.review',
  /** Pay an invoice by card and keep a card on file for later charges (a customer user: their own). */
  'billing.pay',
  /** See support tickets and their threads (a customer user: only their own customer's). */
  'ticket.read',
  /** Open tickets and write in them as the customer (a customer user: for their own customer). */
  'ticket.submit',
  /** Answer tickets as staff. */
  'ticket.reply',
  /** Assign tickets, set their priority, merge and close them. */
  'ticket.manage',
  /** Suspend a customer's service by hand (reason `staff`) and lift that suspension: billing managers, owners, admins. */
  'service.suspend',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLES = ['owner', 'admin', 'operator', 'billing', 'viewer', 'customer'] as const;
export type Role = (typeof ROLES)[number];

const READ: Permission[] = PERMISSIONS.filter((p) => p.endsWith('.read'));

export const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  owner: new Set(PERMISSIONS),
  admin: new Set(PERMISSIONS),
  operator: new Set<Permission>([
    ...READ.filter((p) => p !== 'audit.read' && p !== 'member.read'),
    'workflow.payloads',
    'workflow.start',
    'workflow.cancel',
    'workflow.terminate',
    'workflow.retry',
    'workflow.signal',
    'blueprint.manage',
    'container.manage',
    'container.exec',
    'app.manage',
    'app.deploy',
    'proxmox.manage',
    'alert.manage',
    'alert.acknowledge',
    'terraform.manage',
    // Operators run support for the services they operate.
    'ticket.reply',
    'ticket.manage',
    // Not service.suspend: suspending a customer's service is a billing decision (decision 0031).
  ]),
  // Manages billing: customers, catalog, subscriptions, invoices; reads the runs and emails it causes.
  billing: new Set<Permission>(['workflow.read', 'mail.read', 'customer.read', 'customer.manage', 'catalog.read', 'catalog.manage', 'billing.read', 'billing.manage', 'billing.pay', 'order.place', 'kyc.read', 'kyc.submit', 'kyc.review', 'ticket.read', 'ticket.reply', 'ticket.manage', 'service.suspend']),
  viewer: new Set<Permission>(READ.filter((p) => p !== 'audit.read' && p !== 'apikey.read')),
  // Everything a customer user reads is narrowed to the one customer they act for
  // (Principal.customerId): their customer record, subscriptions, invoices and runs.
  customer: new Set<Permission>(['workflow.read', 'customer.read', 'catalog.read', 'billing.read', 'billing.pay', 'order.place', 'kyc.read', 'kyc.submit', 'ticket.read', 'ticket.submit']),
};

export function roleHas(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}
