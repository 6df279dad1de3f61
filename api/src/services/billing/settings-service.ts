import { writeAudit } from '@keelson/db';
import { billingSettings, files, taxRules, type PostalAddress } from '@keelson/db/schema';
import { and, asc, eq, sql } from 'drizzle-orm';
import { ConflictError, NotFoundError, ValidationError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';

export interface BillingSettingsInput {
  legalName: string;
  address: PostalAddress;
  taxId: string | null;
  email: string | null;
  logoFileId: string | null;
  paymentTermsDays: number;
  leadDays: number;
  runHour: number;
  runTimeZone: string;
  invoicePrefix: string;
  creditNotePrefix: string;
}

type SettingsRow = typeof billingSettings.$inferSelect;

function present(row: SettingsRow) {
  return {
    legalName: row.legalName,
    address: row.address,
    taxId: row.taxId,
    email: row.email,
    logoFileId: row.logoFileId,
    paymentTermsDays: row.paymentTermsDays,
    leadDays: row.leadDays,
    runHour: row.runHour,
    runTimeZone: row.runTimeZone,
    invoicePrefix: row.invoicePrefix,
    creditNotePrefix: row.creditNotePrefix,
    updatedAt: row.updatedAt.toISOString(),
  };
}

export async function getBillingSettings(ctx: ServiceContext) {
  const [row] = await ctx.deps.db.select().from(billingSettings).where(eq(billingSettings.tenantId, ctx.principal.tenantId));
  return row ? present(row) : null;
}

/** Sets the seller profile and the billing run's timing; the caller re-aims the schedule. */
export async function putBillingSettings(ctx: ServiceContext, input: BillingSettingsInput) {
  if (input.invoicePrefix === input.creditNotePrefix) throw new ValidationError('creditNotePrefix: must differ from invoicePrefix (credit notes are their own series)');
  return ctx.deps.db.transaction(async (tx) => {
    if (input.logoFileId) {
      const [f] = await tx.select({ contentType: files.contentType }).from(files).where(and(eq(files.tenantId, ctx.principal.tenantId), eq(files.id, input.logoFileId)));
      if (!f) throw new ValidationError('logoFileId: no such file in this organization');
      if (!/^image\/(png|jpeg)$/.test(f.contentType)) throw new ValidationError('logoFileId: the logo must be a PNG or JPEG');
    }
    const values = { ...input, tenantId: ctx.principal.tenantId };
    const [row] = await tx
      .insert(billingSettings)
      .values(values)
      .onConflictDoUpdate({ target: billingSettings.tenantId, set: { ...input, updatedAt: sql`now()` } })
      .returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'billing.settings.set', resourceType: 'billing_settings', resourceId: ctx.principal.tenantId, details: { legalName: input.legalName, runHour: input.runHour, runTimeZone: input.runTimeZone, leadDays: input.leadDays } });
    return present(row!);
  });
}

export interface TaxRuleInput {
  country: string | null;
  name: string;
  rateBp: number;
  reverseCharge: boolean;
}

type TaxRuleRow = typeof taxRules.$inferSelect;
const presentRule = (r: TaxRuleRow) => ({ id: r.id, country: r.country, name: r.name, rateBp: r.rateBp, reverseCharge: r.reverseCharge, createdAt: r.createdAt.toISOString() });

export async function listTaxRules(ctx: ServiceContext) {
  const rows = await ctx.deps.db.select().from(taxRules).where(eq(taxRules.tenantId, ctx.principal.tenantId)).orderBy(asc(sql`coalesce(${taxRules.country}, '')`));
  return rows.map(presentRule);
}

const duplicate = (input: TaxRuleInput) => (err: { code?: string; cause?: { code?: string } }) => {
  if (err.code === '23505' || err.cause?.code === '23505') throw new ConflictError(input.country ? `a tax rule for ${input.country} already exists` : 'a default tax rule already exists');
  throw err;
};

export async function createTaxRule(ctx: ServiceContext, input: TaxRuleInput) {
  return ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx.insert(taxRules).values({ tenantId: ctx.principal.tenantId, ...input }).returning().catch(duplicate(input));
    await writeAudit(tx, { ...auditActor(ctx), action: 'billing.tax_rule.create', resourceType: 'tax_rule', resourceId: row!.id, details: { ...input } });
    return presentRule(row!);
  });
}

export async function updateTaxRule(ctx: ServiceContext, id: string, input: TaxRuleInput) {
  return ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx
      .update(taxRules)
      .set(input)
      .where(and(eq(taxRules.tenantId, ctx.principal.tenantId), eq(taxRules.id, id)))
      .returning()
      .catch(duplicate(input));
    if (!row) throw new NotFoundError('tax rule');
    await writeAudit(tx, { ...auditActor(ctx), action: 'billing.tax_rule.update', resourceType: 'tax_rule', resourceId: id, details: { ...input } });
    return presentRule(row);
  });
}

export async function deleteTaxRule(ctx: ServiceContext, id: string) {
  await ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx.delete(taxRules).where(and(eq(taxRules.tenantId, ctx.principal.tenantId), eq(taxRules.id, id))).returning();
    if (!row) throw new NotFoundError('tax rule');
    await writeAudit(tx, { ...auditActor(ctx), action: 'billing.tax_rule.delete', resourceType: 'tax_rule', resourceId: id, details: { country: row.country, name: row.name } });
  });
}
