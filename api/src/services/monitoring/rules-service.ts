import { clearThresholdProblem, METRIC_KINDS } from '@keelson/activities/monitoring/rules';
import { encryptSecret } from '@keelson/common/codec';
import { writeAudit } from '@keelson/db';
import {
  alertRules,
  alertSilences,
  maintenanceWindows,
  monitoredResources,
  proxmoxClusters,
  type AlertMetric,
  type AlertScope,
  type AlertSeverity,
  type Comparison,
  type MonitoredKind,
  type NoDataAction,
  type SilenceMatchers,
} from '@keelson/db/schema';
import { and, asc, desc, eq, gt } from 'drizzle-orm';
import { ConflictError, NotFoundError, ValidationError } from '../../errors';
import { auditActor, type ServiceContext } from '../context';
import { nudgeOpenAlerts } from './alerts-service';

type RuleRow = typeof alertRules.$inferSelect;

export function presentRule(r: RuleRow) {
  return {
    id: r.id,
    name: r.name,
    metric: r.metric,
    kinds: r.kinds,
    scope: r.scope,
    comparison: r.comparison,
    threshold: r.threshold,
    clearThreshold: r.clearThreshold,
    forSeconds: r.forSeconds,
    severity: r.severity,
    emails: r.emails,
    webhookUrl: r.webhookUrl,
    /** Whether a signing secret is set; the secret itself is never returned. */
    webhookSigned: r.webhookSecretSealed !== null,
    repeatSeconds: r.repeatSeconds,
    noData: r.noData,
    noDataSeconds: r.noDataSeconds,
    enabled: r.enabled,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

export interface RuleInput {
  name: string;
  metric: AlertMetric;
  kinds: MonitoredKind[];
  scope: AlertScope;
  comparison: Comparison;
  threshold: number;
  clearThreshold?: number;
  forSeconds: number;
  severity: AlertSeverity;
  emails: string[];
  webhookUrl?: string | null;
  /** Set (or replace) the webhook's HMAC key; null removes it; omitted keeps it. */
  webhookSecret?: string | null;
  repeatSeconds: number;
  noData: NoDataAction;
  noDataSeconds: number;
  enabled: boolean;
}

const invalid = (field: string, message: string) => new ValidationError(`${field}: ${message}`, { issues: [{ path: field, message }] });

/** The scope must name things of the caller's organization. */
async function checkScope(ctx: ServiceContext, scope: AlertScope, field = 'scope'): Promise<void> {
  const tenantId = ctx.principal.tenantId;
  if (scope.type === 'resource' || scope.type === 'node') {
    const [r] = await ctx.deps.db.select({ kind: monitoredResources.kind }).from(monitoredResources).where(and(eq(monitoredResources.tenantId, tenantId), eq(monitoredResources.id, scope.resourceId)));
    if (!r) throw invalid(`${field}.resourceId`, 'no such monitored resource in this organization');
    if (scope.type === 'node' && r.kind !== 'docker_node' && r.kind !== 'proxmox_node') throw invalid(`${field}.resourceId`, `a node scope needs a Docker or Proxmox node, not a ${r.kind}`);
  }
  if (scope.type === 'cluster') {
    const [c] = await ctx.deps.db.select({ id: proxmoxClusters.id }).from(proxmoxClusters).where(and(eq(proxmoxClusters.tenantId, tenantId), eq(proxmoxClusters.id, scope.clusterId)));
    if (!c) throw invalid(`${field}.clusterId`, 'no such cluster in this organization');
  }
}

async function check(ctx: ServiceContext, input: RuleInput): Promise<void> {
  const problem = clearThresholdProblem({ comparison: input.comparison, threshold: input.threshold, clearThreshold: input.clearThreshold ?? input.threshold });
  if (problem) throw invalid('clearThreshold', problem);
  const allowed = METRIC_KINDS[input.metric];
  const wrong = input.kinds.find((k) => !allowed.includes(k));
  if (wrong) throw invalid('kinds', `${input.metric} is not measured on ${wrong} (only ${allowed.join(', ')})`);
  if (input.webhookSecret && !input.webhookUrl) throw invalid('webhookSecret', 'a secret signs webhook deliveries: give webhookUrl too');
  await checkScope(ctx, input.scope);
}

function values(ctx: ServiceContext, input: RuleInput) {
  return {
    name: input.name,
    metric: input.metric,
    kinds: input.kinds,
    scope: input.scope,
    comparison: input.comparison,
    threshold: input.threshold,
    clearThreshold: input.clearThreshold ?? input.threshold,
    forSeconds: input.forSeconds,
    severity: input.severity,
    emails: input.emails,
    webhookUrl: input.webhookUrl ?? null,
    ...(input.webhookSecret !== undefined ? { webhookSecretSealed: input.webhookSecret === null ? null : encryptSecret(ctx.deps.keys, input.webhookSecret) } : {}),
    repeatSeconds: input.repeatSeconds,
    noData: input.noData,
    noDataSeconds: input.noDataSeconds,
    enabled: input.enabled,
  };
}

const auditDetails = (input: RuleInput) => ({ ...input, webhookSecret: input.webhookSecret === undefined ? undefined : input.webhookSecret === null ? 'removed' : 'set' });

export async function listRules(ctx: ServiceContext) {
  const rows = await ctx.deps.db.select().from(alertRules).where(eq(alertRules.tenantId, ctx.principal.tenantId)).orderBy(asc(alertRules.name));
  return rows.map(presentRule);
}

export async function requireRule(ctx: ServiceContext, id: string): Promise<RuleRow> {
  const [row] = await ctx.deps.db.select().from(alertRules).where(and(eq(alertRules.tenantId, ctx.principal.tenantId), eq(alertRules.id, id)));
  if (!row) throw new NotFoundError('alert rule');
  return row;
}

export async function createRule(ctx: ServiceContext, input: RuleInput) {
  await check(ctx, input);
  return ctx.deps.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(alertRules)
      .values({ tenantId: ctx.principal.tenantId, ...values(ctx, input) })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new ConflictError(`a rule named "${input.name}" already exists`);
    await writeAudit(tx, { ...auditActor(ctx), action: 'alert_rule.create', resourceType: 'alert_rule', resourceId: row.id, details: auditDetails(input) });
    return presentRule(row);
  });
}

export async function updateRule(ctx: ServiceContext, id: string, input: RuleInput) {
  await requireRule(ctx, id);
  await check(ctx, input);
  return ctx.deps.db.transaction(async (tx) => {
    const clash = await tx.select({ id: alertRules.id }).from(alertRules).where(and(eq(alertRules.tenantId, ctx.principal.tenantId), eq(alertRules.name, input.name)));
    if (clash.some((c) => c.id !== id)) throw new ConflictError(`a rule named "${input.name}" already exists`);
    const [row] = await tx
      .update(alertRules)
      .set({ ...values(ctx, input), updatedAt: new Date() })
      .where(and(eq(alertRules.tenantId, ctx.principal.tenantId), eq(alertRules.id, id)))
      .returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'alert_rule.update', resourceType: 'alert_rule', resourceId: id, details: auditDetails(input) });
    return presentRule(row!);
  });
}

/** Deleting a rule resolves its open alerts at their next look (their rule is gone). */
export async function deleteRule(ctx: ServiceContext, id: string): Promise<void> {
  const rule = await requireRule(ctx, id);
  await ctx.deps.db.transaction(async (tx) => {
    await tx.delete(alertRules).where(and(eq(alertRules.tenantId, ctx.principal.tenantId), eq(alertRules.id, id)));
    await writeAudit(tx, { ...auditActor(ctx), action: 'alert_rule.delete', resourceType: 'alert_rule', resourceId: id, details: { name: rule.name } });
  });
}

// Silences

type SilenceRow = typeof alertSilences.$inferSelect;
export function presentSilence(s: SilenceRow) {
  return { id: s.id, matchers: s.matchers, startsAt: s.startsAt.toISOString(), endsAt: s.endsAt.toISOString(), comment: s.comment, createdBy: s.createdBy, active: s.startsAt.getTime() <= Date.now() && s.endsAt.getTime() > Date.now() };
}

export async function listSilences(ctx: ServiceContext, includeExpired: boolean) {
  const rows = await ctx.deps.db
    .select()
    .from(alertSilences)
    .where(and(eq(alertSilences.tenantId, ctx.principal.tenantId), includeExpired ? undefined : gt(alertSilences.endsAt, new Date())))
    .orderBy(desc(alertSilences.endsAt));
  return rows.map(presentSilence);
}

export async function createSilence(ctx: ServiceContext, input: { matchers: SilenceMatchers; startsAt?: string; endsAt: string; comment: string }) {
  const startsAt = input.startsAt ? new Date(input.startsAt) : new Date();
  const endsAt = new Date(input.endsAt);
  if (!(endsAt > startsAt)) throw invalid('endsAt', 'must be after startsAt');
  if (Object.keys(input.matchers).length === 0) throw invalid('matchers', 'name at least one of ruleId, resourceId, severity, tag (a silence of everything is a maintenance window)');
  if (input.matchers.ruleId) await requireRule(ctx, input.matchers.ruleId).catch(() => Promise.reject(invalid('matchers.ruleId', 'no such rule in this organization')));
  if (input.matchers.resourceId) await checkScope(ctx, { type: 'resource', resourceId: input.matchers.resourceId }, 'matchers');
  const row = await ctx.deps.db.transaction(async (tx) => {
    const [s] = await tx
      .insert(alertSilences)
      .values({ tenantId: ctx.principal.tenantId, matchers: input.matchers, startsAt, endsAt, comment: input.comment, createdBy: ctx.principal.actor })
      .returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'alert_silence.create', resourceType: 'alert_silence', resourceId: s!.id, details: { ...input } });
    return s!;
  });
  await nudgeOpenAlerts(ctx);
  return presentSilence(row);
}

/** Changes a silence's matchers, times or comment; alerts it held (or now holds) look again at once. */
export async function updateSilence(ctx: ServiceContext, id: string, input: { matchers: SilenceMatchers; startsAt?: string; endsAt: string; comment: string }) {
  const [existing] = await ctx.deps.db.select().from(alertSilences).where(and(eq(alertSilences.tenantId, ctx.principal.tenantId), eq(alertSilences.id, id)));
  if (!existing) throw new NotFoundError('silence');
  const startsAt = input.startsAt ? new Date(input.startsAt) : existing.startsAt;
  const endsAt = new Date(input.endsAt);
  if (!(endsAt > startsAt)) throw invalid('endsAt', 'must be after startsAt');
  if (Object.keys(input.matchers).length === 0) throw invalid('matchers', 'name at least one of ruleId, resourceId, severity, tag (a silence of everything is a maintenance window)');
  if (input.matchers.ruleId) await requireRule(ctx, input.matchers.ruleId).catch(() => Promise.reject(invalid('matchers.ruleId', 'no such rule in this organization')));
  if (input.matchers.resourceId) await checkScope(ctx, { type: 'resource', resourceId: input.matchers.resourceId }, 'matchers');
  const row = await ctx.deps.db.transaction(async (tx) => {
    const [s] = await tx
      .update(alertSilences)
      .set({ matchers: input.matchers, startsAt, endsAt, comment: input.comment })
      .where(and(eq(alertSilences.tenantId, ctx.principal.tenantId), eq(alertSilences.id, id)))
      .returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'alert_silence.update', resourceType: 'alert_silence', resourceId: id, details: { ...input } });
    return s!;
  });
  await nudgeOpenAlerts(ctx);
  return presentSilence(row);
}

/** Ends a silence now (it stays listed as expired); alerts it held notify at once if still firing. */
export async function expireSilence(ctx: ServiceContext, id: string) {
  const [row] = await ctx.deps.db.select().from(alertSilences).where(and(eq(alertSilences.tenantId, ctx.principal.tenantId), eq(alertSilences.id, id)));
  if (!row) throw new NotFoundError('silence');
  await ctx.deps.db.transaction(async (tx) => {
    const now = new Date();
    await tx
      .update(alertSilences)
      .set({ endsAt: row.endsAt < now ? row.endsAt : now, startsAt: row.startsAt < now ? row.startsAt : now })
      .where(and(eq(alertSilences.tenantId, ctx.principal.tenantId), eq(alertSilences.id, id)));
    await writeAudit(tx, { ...auditActor(ctx), action: 'alert_silence.expire', resourceType: 'alert_silence', resourceId: id, details: {} });
  });
  await nudgeOpenAlerts(ctx);
}

// Maintenance windows

type WindowRow = typeof maintenanceWindows.$inferSelect;
export function presentWindow(w: WindowRow) {
  return { id: w.id, name: w.name, scope: w.scope, startsAt: w.startsAt.toISOString(), endsAt: w.endsAt.toISOString(), repeatWeekly: w.repeatWeekly, createdBy: w.createdBy };
}

export async function listWindows(ctx: ServiceContext) {
  const rows = await ctx.deps.db.select().from(maintenanceWindows).where(eq(maintenanceWindows.tenantId, ctx.principal.tenantId)).orderBy(desc(maintenanceWindows.startsAt));
  return rows.map(presentWindow);
}

export async function createWindow(ctx: ServiceContext, input: { name: string; scope: AlertScope; startsAt: string; endsAt: string; repeatWeekly: boolean }) {
  const startsAt = new Date(input.startsAt);
  const endsAt = new Date(input.endsAt);
  if (!(endsAt > startsAt)) throw invalid('endsAt', 'must be after startsAt');
  if (input.repeatWeekly && endsAt.getTime() - startsAt.getTime() >= 7 * 24 * 3600_000) throw invalid('endsAt', 'a weekly window must be shorter than a week');
  await checkScope(ctx, input.scope);
  const row = await ctx.deps.db.transaction(async (tx) => {
    const [w] = await tx
      .insert(maintenanceWindows)
      .values({ tenantId: ctx.principal.tenantId, name: input.name, scope: input.scope, startsAt, endsAt, repeatWeekly: input.repeatWeekly, createdBy: ctx.principal.actor })
      .returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'maintenance_window.create', resourceType: 'maintenance_window', resourceId: w!.id, details: { ...input } });
    return w!;
  });
  await nudgeOpenAlerts(ctx);
  return presentWindow(row);
}

export async function updateWindow(ctx: ServiceContext, id: string, input: { name: string; scope: AlertScope; startsAt: string; endsAt: string; repeatWeekly: boolean }) {
  const [existing] = await ctx.deps.db.select({ id: maintenanceWindows.id }).from(maintenanceWindows).where(and(eq(maintenanceWindows.tenantId, ctx.principal.tenantId), eq(maintenanceWindows.id, id)));
  if (!existing) throw new NotFoundError('maintenance window');
  const startsAt = new Date(input.startsAt);
  const endsAt = new Date(input.endsAt);
  if (!(endsAt > startsAt)) throw invalid('endsAt', 'must be after startsAt');
  if (input.repeatWeekly && endsAt.getTime() - startsAt.getTime() >= 7 * 24 * 3600_000) throw invalid('endsAt', 'a weekly window must be shorter than a week');
  await checkScope(ctx, input.scope);
  const row = await ctx.deps.db.transaction(async (tx) => {
    const [w] = await tx
      .update(maintenanceWindows)
      .set({ name: input.name, scope: input.scope, startsAt, endsAt, repeatWeekly: input.repeatWeekly })
      .where(and(eq(maintenanceWindows.tenantId, ctx.principal.tenantId), eq(maintenanceWindows.id, id)))
      .returning();
    await writeAudit(tx, { ...auditActor(ctx), action: 'maintenance_window.update', resourceType: 'maintenance_window', resourceId: id, details: { ...input } });
    return w!;
  });
  await nudgeOpenAlerts(ctx);
  return presentWindow(row);
}

export async function deleteWindow(ctx: ServiceContext, id: string) {
  const [row] = await ctx.deps.db.select().from(maintenanceWindows).where(and(eq(maintenanceWindows.tenantId, ctx.principal.tenantId), eq(maintenanceWindows.id, id)));
  if (!row) throw new NotFoundError('maintenance window');
  await ctx.deps.db.transaction(async (tx) => {
    await tx.delete(maintenanceWindows).where(and(eq(maintenanceWindows.tenantId, ctx.principal.tenantId), eq(maintenanceWindows.id, id)));
    await writeAudit(tx, { ...auditActor(ctx), action: 'maintenance_window.delete', resourceType: 'maintenance_window', resourceId: id, details: { name: row.name } });
  });
  await nudgeOpenAlerts(ctx);
}
