import { writeAudit, type Executor } from '@keelson/db';
import { customerContacts, customers, customerUsers, invoices, memberships, subscriptions, users, type PostalAddress } from '@keelson/db/schema';
import { and, asc, eq, ilike, inArray, or, sql, type SQL } from 'drizzle-orm';
import { forgetApiKeys } from '../../auth/api-key-cache';
import { ConflictError, NotFoundError, ValidationError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';
import { customerScope } from '../customer-scope';
import { checkTaxId } from './validation';

export interface CustomerInput {
  kind: 'individual' | 'company';
  name: string;
  address: PostalAddress;
  taxId: string | null;
  currency: string;
  timeZone: string;
  notes: string;
  contacts: Array<{ name: string; email: string; phone: string | null; role: string | null; isBilling: boolean }>;
}

type CustomerRow = typeof customers.$inferSelect;
type ContactRow = typeof customerContacts.$inferSelect;

function presentContact(c: ContactRow) {
  return { id: c.id, name: c.name, email: c.email, phone: c.phone, role: c.role, isBilling: c.isBilling };
}

export function presentCustomer(row: CustomerRow, contacts: ContactRow[]) {
  const own = contacts.filter((c) => c.customerId === row.id).sort((a, b) => a.position - b.position);
  const billing = own.find((c) => c.isBilling) ?? null;
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    address: row.address,
    country: row.country,
    taxId: row.taxId,
    taxIdValid: row.taxIdValid,
    currency: row.currency,
    timeZone: row.timeZone,
    notes: row.notes,
    contacts: own.map(presentContact),
    billingContact: billing ? presentContact(billing) : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The tenant clause, plus the customer clause for a customer user: every customer query starts here. */
function visible(ctx: ServiceContext, ...more: Array<SQL | undefined>) {
  const scope = customerScope(ctx);
  return and(eq(customers.tenantId, ctx.principal.tenantId), scope ? eq(customers.id, scope) : undefined, ...more);
}

async function contactsOf(db: Executor, ids: string[]) {
  if (!ids.length) return [];
  return db.select().from(customerContacts).where(inArray(customerContacts.customerId, ids)).orderBy(asc(customerContacts.position));
}

export async function listCustomers(ctx: ServiceContext, filter: { q?: string }) {
  const { db } = ctx.deps;
  const q = filter.q?.trim();
  const like = q ? `%${q.replace(/[\\%_]/g, (m) => `\\${m}`)}%` : null;
  const rows = await db
    .select()
    .from(customers)
    .where(
      visible(
        ctx,
        like
          ? or(
              ilike(customers.name, like),
              ilike(customers.taxId, like),
              sql`exists (select 1 from ${customerContacts} where ${customerContacts.customerId} = ${customers.id} and ${customerContacts.email} ilike ${like})`,
            )
          : undefined,
      ),
    )
    .orderBy(asc(customers.name), asc(customers.id))
    .limit(1000);
  const contacts = await contactsOf(db, rows.map((r) => r.id));
  return rows.map((r) => presentCustomer(r, contacts));
}

/** A customer of the caller's organization (and, for a customer user, their own); 404 otherwise. */
export async function requireCustomer(ctx: ServiceContext, id: string, db: Executor = ctx.deps.db): Promise<CustomerRow> {
  const [row] = await db.select().from(customers).where(visible(ctx, eq(customers.id, id)));
  if (!row) throw new NotFoundError('customer');
  return row;
}

export async function getCustomer(ctx: ServiceContext, id: string) {
  const row = await requireCustomer(ctx, id);
  return presentCustomer(row, await contactsOf(ctx.deps.db, [row.id]));
}

function columns(input: CustomerInput) {
  if (input.address.country === undefined) throw new ValidationError('address.country: required');
  let taxIdValid = false;
  if (input.taxId) {
    const check = checkTaxId(input.taxId, input.address.country);
    if (!check.valid && check.known) throw new ValidationError(`taxId: "${input.taxId}" is not a valid tax id for ${input.address.country}`, { issues: [{ path: 'taxId', message: 'not a valid tax id for the country' }] });
    taxIdValid = check.valid;
  }
  return {
    kind: input.kind,
    name: input.name,
    address: input.address,
    country: input.address.country,
    taxId: input.taxId,
    taxIdValid,
    currency: input.currency,
    timeZone: input.timeZone,
    notes: input.notes,
  };
}

function contactRows(tenantId: string, customerId: string, input: CustomerInput) {
  const billingIndex = Math.max(
    0,
    input.contacts.findIndex((c) => c.isBilling),
  );
  return input.contacts.map((c, i) => ({ tenantId, customerId, name: c.name, email: c.email, phone: c.phone, role: c.role, isBilling: i === billingIndex, position: i }));
}

export async function createCustomer(ctx: ServiceContext, input: CustomerInput) {
  const values = columns(input);
  return ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx.insert(customers).values({ tenantId: ctx.principal.tenantId, ...values }).returning();
    const contacts = await tx.insert(customerContacts).values(contactRows(ctx.principal.tenantId, row!.id, input)).returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'customer.create', resourceType: 'customer', resourceId: row!.id, details: { name: row!.name, kind: row!.kind, country: row!.country } });
    return presentCustomer(row!, contacts);
  });
}

/** Replaces the customer's fields and contacts. Invoices already finalized keep their snapshot. */
export async function updateCustomer(ctx: ServiceContext, id: string, input: CustomerInput) {
  const values = columns(input);
  return ctx.deps.db.transaction(async (tx) => {
    const existing = await requireCustomer(ctx, id, tx);
    if (existing.currency !== values.currency) {
      const [used] = await tx.select({ id: subscriptions.id }).from(subscriptions).where(and(eq(subscriptions.tenantId, ctx.principal.tenantId), eq(subscriptions.customerId, id))).limit(1);
      if (used) throw new ConflictError('currency: the customer has subscriptions in ' + existing.currency + '; it cannot change');
    }
    const [row] = await tx
      .update(customers)
      .set({ ...values, updatedAt: sql`now()` })
      .where(and(eq(customers.tenantId, ctx.principal.tenantId), eq(customers.id, id)))
      .returning();
    await tx.delete(customerContacts).where(eq(customerContacts.customerId, id));
    const contacts = await tx.insert(customerContacts).values(contactRows(ctx.principal.tenantId, id, input)).returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'customer.update', resourceType: 'customer', resourceId: id, details: { name: row!.name } });
    return presentCustomer(row!, contacts);
  });
}

/** Deletes a customer that has no subscriptions and no invoices (those are records to keep). */
export async function deleteCustomer(ctx: ServiceContext, id: string) {
  await ctx.deps.db.transaction(async (tx) => {
    const row = await requireCustomer(ctx, id, tx);
    const [sub] = await tx.select({ id: subscriptions.id }).from(subscriptions).where(and(eq(subscriptions.tenantId, ctx.principal.tenantId), eq(subscriptions.customerId, id))).limit(1);
    const [inv] = await tx.select({ id: invoices.id }).from(invoices).where(and(eq(invoices.tenantId, ctx.principal.tenantId), eq(invoices.customerId, id))).limit(1);
    if (sub || inv) throw new ConflictError('the customer has subscriptions or invoices; it cannot be deleted');
    await tx.delete(customers).where(and(eq(customers.tenantId, ctx.principal.tenantId), eq(customers.id, id)));
    await writeAudit(tx, { ...auditActor(ctx), action: 'customer.delete', resourceType: 'customer', resourceId: id, details: { name: row.name } });
  });
}

/** The members who sign in for a customer (role `customer`). */
export async function listCustomerUsers(ctx: ServiceContext, customerId: string) {
  await requireCustomer(ctx, customerId);
  const rows = await ctx.deps.db
    .select({ userId: customerUsers.userId, email: users.email, name: users.name, createdAt: customerUsers.createdAt })
    .from(customerUsers)
    .innerJoin(users, eq(users.id, customerUsers.userId))
    .where(and(eq(customerUsers.tenantId, ctx.principal.tenantId), eq(customerUsers.customerId, customerId)))
    .orderBy(asc(users.email));
  return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }));
}

/**
 * Lets a member with the `customer` role sign in for this customer (and only it). Invite them
 * with that role first (/api/members); a member with any other role is refused, so staff never
 * lose their view by being linked.
 */
export async function linkCustomerUser(ctx: ServiceContext, customerId: string, userId: string) {
  const linked = await ctx.deps.db.transaction(async (tx) => {
    await requireCustomer(ctx, customerId, tx);
    const [member] = await tx
      .select({ role: memberships.role, email: users.email, name: users.name })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(eq(memberships.tenantId, ctx.principal.tenantId), eq(memberships.userId, userId)));
    if (!member) throw new NotFoundError('member');
    if (member.role !== 'customer') throw new ValidationError(`userId: the member has the role ${member.role}; only members with the customer role act for a customer`);
    const [row] = await tx
      .insert(customerUsers)
      .values({ tenantId: ctx.principal.tenantId, userId, customerId })
      .onConflictDoUpdate({ target: [customerUsers.tenantId, customerUsers.userId], set: { customerId, createdAt: sql`now()` } })
      .returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'customer.user.link', resourceType: 'customer', resourceId: customerId, details: { userId, email: member.email } });
    return { userId, email: member.email, name: member.name, createdAt: row!.createdAt.toISOString() };
  });
  // Keys of this person act for the customer they are linked to (decision 0020).
  forgetApiKeys(ctx.deps.db);
  return linked;
}

export async function unlinkCustomerUser(ctx: ServiceContext, customerId: string, userId: string) {
  await ctx.deps.db.transaction(async (tx) => {
    await requireCustomer(ctx, customerId, tx);
    const [row] = await tx
      .delete(customerUsers)
      .where(and(eq(customerUsers.tenantId, ctx.principal.tenantId), eq(customerUsers.customerId, customerId), eq(customerUsers.userId, userId)))
      .returning();
    if (!row) throw new NotFoundError('customer user');
    await writeAudit(tx, { ...auditActor(ctx), action: 'customer.user.unlink', resourceType: 'customer', resourceId: customerId, details: { userId } });
  });
  forgetApiKeys(ctx.deps.db);
}
