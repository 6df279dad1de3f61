import { writeAudit, type Executor } from '@keelson/db';
import { blueprints, nodes, planPrices, plans, products, proxmoxClusters, subscriptions, type BillingCycle, type Provisioning } from '@keelson/db/schema';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { ConflictError, NotFoundError, ValidationError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';
import { customerScope } from '../customer-scope';

export interface ProductInput {
  name: string;
  description: string;
  requiresKyc: boolean;
  active: boolean;
}

export interface PlanInput {
  name: string;
  description: string;
  currency: string;
  prices: Array<{ cycle: BillingCycle; amountMinor: number }>;
  setupFeeMinor: number;
  trialDays: number;
  provisioning: Provisioning;
  active: boolean;
}

type ProductRow = typeof products.$inferSelect;
type PlanRow = typeof plans.$inferSelect;
type PriceRow = typeof planPrices.$inferSelect;

const CYCLE_ORDER: Record<BillingCycle, number> = { monthly: 0, quarterly: 1, yearly: 2 };

export function presentPlan(plan: PlanRow, prices: PriceRow[], product: Pick<ProductRow, 'requiresKyc'>) {
  return {
    id: plan.id,
    productId: plan.productId,
    name: plan.name,
    description: plan.description,
    currency: plan.currency,
    prices: prices
      .filter((p) => p.planId === plan.id)
      .sort((a, b) => CYCLE_ORDER[a.cycle] - CYCLE_ORDER[b.cycle])
      .map((p) => ({ cycle: p.cycle, amountMinor: p.amountMinor })),
    setupFeeMinor: plan.setupFeeMinor,
    trialDays: plan.trialDays,
    provisioning: plan.provisioning as unknown as Record<string, unknown>,
    requiresKyc: product.requiresKyc,
    active: plan.active,
    createdAt: plan.createdAt.toISOString(),
    updatedAt: plan.updatedAt.toISOString(),
  };
}

/** Customers see the catalog they can order from: active products and plans only. */
function staffView(ctx: ServiceContext) {
  return customerScope(ctx) === null;
}

async function present(ctx: ServiceContext, db: Executor, rows: ProductRow[], includeInactive: boolean) {
  if (!rows.length) return [];
  const planRows = await db
    .select()
    .from(plans)
    .where(and(eq(plans.tenantId, ctx.principal.tenantId), inArray(plans.productId, rows.map((r) => r.id)), includeInactive ? undefined : eq(plans.active, true)))
    .orderBy(asc(plans.name));
  const prices = planRows.length ? await db.select().from(planPrices).where(inArray(planPrices.planId, planRows.map((p) => p.id))) : [];
  return rows.map((product) => ({
    id: product.id,
    name: product.name,
    description: product.description,
    requiresKyc: product.requiresKyc,
    active: product.active,
    plans: planRows.filter((p) => p.productId === product.id).map((p) => presentPlan(p, prices, product)),
    createdAt: product.createdAt.toISOString(),
    updatedAt: product.updatedAt.toISOString(),
  }));
}

export async function listProducts(ctx: ServiceContext, filter: { includeInactive?: boolean }) {
  const includeInactive = Boolean(filter.includeInactive) && staffView(ctx);
  const rows = await ctx.deps.db
    .select()
    .from(products)
    .where(and(eq(products.tenantId, ctx.principal.tenantId), includeInactive ? undefined : eq(products.active, true)))
    .orderBy(asc(products.name));
  return present(ctx, ctx.deps.db, rows, includeInactive);
}

async function requireProductRow(ctx: ServiceContext, id: string, db: Executor = ctx.deps.db) {
  const [row] = await db.select().from(products).where(and(eq(products.tenantId, ctx.principal.tenantId), eq(products.id, id)));
  if (!row || (!row.active && !staffView(ctx))) throw new NotFoundError('product');
  return row;
}

export async function getProduct(ctx: ServiceContext, id: string) {
  const row = await requireProductRow(ctx, id);
  return (await present(ctx, ctx.deps.db, [row], staffView(ctx)))[0]!;
}

const uniqueName = (what: string, name: string) => (err: { code?: string; cause?: { code?: string } }) => {
  if (err.code === '23505' || err.cause?.code === '23505') throw new ConflictError(`a ${what} named "${name}" already exists`);
  throw err;
};

export async function createProduct(ctx: ServiceContext, input: ProductInput) {
  return ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx.insert(products).values({ tenantId: ctx.principal.tenantId, ...input }).onConflictDoNothing().returning();
    if (!row) throw new ConflictError(`a product named "${input.name}" already exists`);
    await writeAudit(tx, { ...auditActor(ctx), action: 'product.create', resourceType: 'product', resourceId: row.id, details: { name: row.name } });
    return (await present(ctx, tx, [row], true))[0]!;
  });
}

export async function updateProduct(ctx: ServiceContext, id: string, input: ProductInput) {
  return ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx
      .update(products)
      .set({ ...input, updatedAt: sql`now()` })
      .where(and(eq(products.tenantId, ctx.principal.tenantId), eq(products.id, id)))
      .returning()
      .catch(uniqueName('product', input.name));
    if (!row) throw new NotFoundError('product');
    await writeAudit(tx, { ...auditActor(ctx), action: 'product.update', resourceType: 'product', resourceId: id, details: { name: row.name, active: row.active, requiresKyc: row.requiresKyc } });
    return (await present(ctx, tx, [row], true))[0]!;
  });
}

/** Deletes a product whose plans no subscription uses (deactivate it otherwise). */
export async function deleteProduct(ctx: ServiceContext, id: string) {
  await ctx.deps.db.transaction(async (tx) => {
    const row = await requireProductRow(ctx, id, tx);
    const [used] = await tx
      .select({ id: subscriptions.id })
      .from(subscriptions)
      .innerJoin(plans, eq(plans.id, subscriptions.planId))
      .where(and(eq(subscriptions.tenantId, ctx.principal.tenantId), eq(plans.productId, id)))
      .limit(1);
    if (used) throw new ConflictError('a subscription uses a plan of this product; deactivate it instead');
    await tx.delete(plans).where(and(eq(plans.tenantId, ctx.principal.tenantId), eq(plans.productId, id)));
    await tx.delete(products).where(and(eq(products.tenantId, ctx.principal.tenantId), eq(products.id, id)));
    await writeAudit(tx, { ...auditActor(ctx), action: 'product.delete', resourceType: 'product', resourceId: id, details: { name: row.name } });
  });
}

/** A plan's references must be the organization's own: a 400 naming the field otherwise. */
async function checkProvisioning(ctx: ServiceContext, db: Executor, p: Provisioning) {
  const tenant = ctx.principal.tenantId;
  const missing = (field: string, what: string) => new ValidationError(`provisioning.${field}: no such ${what} in this organization`, { issues: [{ path: `provisioning.${field}`, message: `no such ${what}` }] });
  if (p.kind === 'proxmox_vm' || p.kind === 'proxmox_lxc') {
    const [c] = await db.select({ id: proxmoxClusters.id }).from(proxmoxClusters).where(and(eq(proxmoxClusters.tenantId, tenant), eq(proxmoxClusters.id, p.clusterId)));
    if (!c) throw missing('clusterId', 'Proxmox cluster');
  }
  if (p.kind === 'app' || p.kind === 'container') {
    const [n] = await db.select({ id: nodes.id }).from(nodes).where(and(eq(nodes.tenantId, tenant), eq(nodes.id, p.nodeId)));
    if (!n) throw missing('nodeId', 'node');
  }
  if (p.kind === 'container') {
    const [b] = await db.select({ id: blueprints.id }).from(blueprints).where(and(eq(blueprints.tenantId, tenant), eq(blueprints.id, p.blueprintId)));
    if (!b) throw missing('blueprintId', 'blueprint');
  }
}

export async function requirePlan(ctx: ServiceContext, id: string, db: Executor = ctx.deps.db) {
  const [row] = await db
    .select({ plan: plans, product: products })
    .from(plans)
    .innerJoin(products, eq(products.id, plans.productId))
    .where(and(eq(plans.tenantId, ctx.principal.tenantId), eq(plans.id, id)));
  if (!row || ((!row.plan.active || !row.product.active) && !staffView(ctx))) throw new NotFoundError('plan');
  return row;
}

export async function getPlan(ctx: ServiceContext, id: string) {
  const { plan, product } = await requirePlan(ctx, id);
  return presentPlan(plan, await ctx.deps.db.select().from(planPrices).where(eq(planPrices.planId, plan.id)), product);
}

export async function createPlan(ctx: ServiceContext, productId: string, input: PlanInput) {
  return ctx.deps.db.transaction(async (tx) => {
    const product = await requireProductRow(ctx, productId, tx);
    await checkProvisioning(ctx, tx, input.provisioning);
    const { prices, ...rest } = input;
    const [row] = await tx.insert(plans).values({ tenantId: ctx.principal.tenantId, productId, ...rest }).onConflictDoNothing().returning();
    if (!row) throw new ConflictError(`a plan named "${input.name}" already exists in this product`);
    const priceRows = await tx.insert(planPrices).values(prices.map((p) => ({ planId: row.id, ...p }))).returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'plan.create', resourceType: 'plan', resourceId: row.id, details: { name: row.name, productId, prices, currency: row.currency } });
    return presentPlan(row, priceRows, product);
  });
}

/**
 * Replaces a plan. Running subscriptions keep the price they were sold at (their own
 * `unitPriceMinor`); the currency cannot change once a subscription uses the plan.
 */
export async function updatePlan(ctx: ServiceContext, id: string, input: PlanInput) {
  return ctx.deps.db.transaction(async (tx) => {
    const { plan, product } = await requirePlan(ctx, id, tx);
    await checkProvisioning(ctx, tx, input.provisioning);
    if (plan.currency !== input.currency) {
      const [used] = await tx.select({ id: subscriptions.id }).from(subscriptions).where(eq(subscriptions.planId, id)).limit(1);
      if (used) throw new ConflictError(`currency: subscriptions use this plan in ${plan.currency}; it cannot change`);
    }
    const { prices, ...rest } = input;
    const [row] = await tx
      .update(plans)
      .set({ ...rest, updatedAt: sql`now()` })
      .where(and(eq(plans.tenantId, ctx.principal.tenantId), eq(plans.id, id)))
      .returning()
      .catch(uniqueName('plan', input.name));
    await tx.delete(planPrices).where(eq(planPrices.planId, id));
    const priceRows = await tx.insert(planPrices).values(prices.map((p) => ({ planId: id, ...p }))).returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'plan.update', resourceType: 'plan', resourceId: id, details: { name: row!.name, prices, active: row!.active } });
    return presentPlan(row!, priceRows, product);
  });
}

export async function deletePlan(ctx: ServiceContext, id: string) {
  await ctx.deps.db.transaction(async (tx) => {
    const { plan } = await requirePlan(ctx, id, tx);
    const [used] = await tx.select({ id: subscriptions.id }).from(subscriptions).where(eq(subscriptions.planId, id)).limit(1);
    if (used) throw new ConflictError('a subscription uses this plan; deactivate it instead');
    await tx.delete(plans).where(and(eq(plans.tenantId, ctx.principal.tenantId), eq(plans.id, id)));
    await writeAudit(tx, { ...auditActor(ctx), action: 'plan.delete', resourceType: 'plan', resourceId: id, details: { name: plan.name } });
  });
}
