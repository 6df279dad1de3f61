import { ALERT_OPERATION, resourceRef, SearchAttribute, WorkflowId, WorkflowType } from '@keelson/common/constants';
import type { Database } from '@keelson/db';
import { alertRules, alerts, maintenanceWindows, monitoredResources, type AlertMetric, type MonitoredKind } from '@keelson/db/schema';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { and, eq, inArray } from 'drizzle-orm';
import { eachLimited } from './collect-proxmox';
import { whileAlive } from './keep-alive';
import { downParent, inScope, METRIC_KINDS, metricValue, sideOf, STOPPED, type ResourceView } from './rules';
import type { AlertInput, Observation, RuleSnapshot } from './types';

/**
 * Rule evaluation: each rule, over the resources its scope covers, turns each resource's latest
 * values into an observation and hands it to that resource's alert workflow — started (or
 * signalled, if it runs) for a breach or a "no data" that counts, signalled for anything else only
 * if the alert is open. Starting is `signalWithStart` on `alert/<rule>/<resource>`, so evaluations
 * that race (a schedule and a manual trigger, a retried activity) meet one workflow, which ignores
 * observations older than the last it saw.
 */

export interface EvaluateDeps {
  db: Database;
  temporal: Client;
  /** Where alert workflows run (the core task queue). */
  taskQueue: string;
  /** The evaluation schedule's interval: alert workflows look for themselves when observations are older. */
  intervalMs: number;
  /** Signals in flight at once. Default 16. */
  concurrency?: number;
}

export interface EvaluateResult {
  ruleId: string;
  resources: number;
  breaching: number;
  signalled: number;
}

type Rule = typeof alertRules.$inferSelect;

function snapshot(rule: Rule): RuleSnapshot {
  return {
    name: rule.name,
    metric: rule.metric,
    comparison: rule.comparison,
    threshold: rule.threshold,
    clearThreshold: rule.clearThreshold,
    forSeconds: rule.forSeconds,
    repeatSeconds: rule.repeatSeconds,
    severity: rule.severity,
  };
}

/** Whether a maintenance window is open at `now` (weekly ones every 7 days from their start). */
export function windowOpen(w: { startsAt: Date; endsAt: Date; repeatWeekly: boolean }, now: number): { open: boolean; endsAt: number } {
  const start = w.startsAt.getTime();
  const length = w.endsAt.getTime() - start;
  if (!w.repeatWeekly || now < start) return { open: now >= start && now < start + length, endsAt: start + length };
  const week = 7 * 24 * 3600_000;
  const thisStart = start + Math.floor((now - start) / week) * week;
  return { open: now < thisStart + length, endsAt: thisStart + length };
}

export type World = Pick<Awaited<ReturnType<typeof loadWorld>>, 'byKindKey' | 'inMaintenance'>;

async function loadWorld(db: Database, tenantId: string, now: number) {
  const rows = await db
    .select({
      id: monitoredResources.id,
      kind: monitoredResources.kind,
      key: monitoredResources.key,
      name: monitoredResources.name,
      clusterId: monitoredResources.clusterId,
      node: monitoredResources.node,
      tags: monitoredResources.tags,
      status: monitoredResources.status,
      lastSampleAt: monitoredResources.lastSampleAt,
      lastValues: monitoredResources.lastValues,
    })
    .from(monitoredResources)
    .where(eq(monitoredResources.tenantId, tenantId));
  const byId = new Map<string, ResourceView>(rows.map((r) => [r.id, r]));
  const byKindKey = new Map<string, ResourceView>(rows.map((r) => [`${r.kind}\u0000${r.key}`, r]));
  const windows = (await db.select().from(maintenanceWindows).where(eq(maintenanceWindows.tenantId, tenantId))).filter((w) => windowOpen(w, now).open);
  const inMaintenance = new Set<string>();
  for (const r of rows) if (windows.some((w) => inScope(w.scope, r, byId))) inMaintenance.add(r.id);
  return { rows, byId, byKindKey, inMaintenance };
}

/**
 * Whether `r`'s last sample came with its Proxmox cluster's latest reading: every resource of a
 * reading carries that reading's instant, so a node or guest whose sample is as new as its
 * cluster's has missed nothing; it is the reading that is late (a slow collection round, a worker
 * restarting). Whether the cluster itself is read is the cluster's own alert to raise.
 */
export function inLatestClusterReading(r: ResourceView, byKindKey: Map<string, ResourceView>): boolean {
  if ((r.kind !== 'guest' && r.kind !== 'proxmox_node') || !r.clusterId || !r.lastSampleAt) return false;
  const cluster = byKindKey.get(`proxmox_cluster\u0000${r.clusterId}`);
  return Boolean(cluster?.lastSampleAt && r.lastSampleAt.getTime() >= cluster.lastSampleAt.getTime());
}

/** The observation of `rule` on `r` at `now`, and whether a "no data" alert should be open for it. */
export function observe(rule: Rule, r: ResourceView, world: World, now: number): { metric: Observation | null; nodata: 'open' | 'clear' | 'hold' } {
  const base = { at: now, rule: snapshot(rule) };
  const parent = downParent(r, world.byKindKey);
  if (parent) return { metric: { ...base, status: 'inhibited', value: null, reason: `${parent.name} is ${parent.status}` }, nodata: 'hold' };
  if (STOPPED.has(r.status)) return { metric: { ...base, status: 'gone', value: null, reason: `${r.name} is ${r.status}` }, nodata: 'clear' };
  const fresh = r.lastSampleAt !== null && now - r.lastSampleAt.getTime() <= rule.noDataSeconds * 1000;
  const maintenance = world.inMaintenance.has(r.id);
  // Stale, but as new as its cluster's latest reading: the reading is late, not this resource.
  if (!fresh) return { metric: { ...base, status: 'nodata', value: null }, nodata: maintenance || inLatestClusterReading(r, world.byKindKey) ? 'hold' : 'open' };
  const value = metricValue(rule.metric as AlertMetric, r.lastValues);
  if (value === undefined) return { metric: null, nodata: 'clear' };
  return { metric: { ...base, status: sideOf(value, rule), value }, nodata: 'clear' };
}

export function createEvaluateActivities(deps: EvaluateDeps) {
  const { db, temporal } = deps;
  const concurrency = deps.concurrency ?? 16;

  function start(rule: Rule, r: ResourceView, kind: 'metric' | 'nodata', observation: Observation) {
    const input: AlertInput = { tenantId: rule.tenantId, ruleId: rule.id, resourceId: r.id, resourceName: r.name, resourceKind: r.kind, kind, intervalMs: deps.intervalMs };
    return temporal.workflow.signalWithStart(WorkflowType.alertInstance, {
      workflowId: WorkflowId.alert(rule.id, r.id, kind),
      taskQueue: deps.taskQueue,
      args: [input],
      signal: 'observe',
      signalArgs: [observation],
      searchAttributes: {
        [SearchAttribute.tenant]: [rule.tenantId],
        [SearchAttribute.operation]: [ALERT_OPERATION],
        [SearchAttribute.resources]: [resourceRef('alert-rule', rule.id), resourceRef(r.kind, r.id)],
        [SearchAttribute.actor]: ['system:monitoring'],
      },
    });
  }

  async function signal(rule: Rule, resourceId: string, kind: 'metric' | 'nodata', observation: Observation) {
    try {
      await temporal.workflow.getHandle(WorkflowId.alert(rule.id, resourceId, kind)).signal('observe', observation);
    } catch (err) {
      // It ended between our read and the signal: nothing is open any more.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }

  async function evaluateRule(input: { ruleId: string }): Promise<EvaluateResult> {
    const [rule] = await db.select().from(alertRules).where(eq(alertRules.id, input.ruleId));
    if (!rule || !rule.enabled) return { ruleId: input.ruleId, resources: 0, breaching: 0, signalled: 0 };
    const now = Date.now();
    const world = await loadWorld(db, rule.tenantId, now);
    const kinds = new Set<MonitoredKind>(rule.kinds.length ? rule.kinds.filter((k) => METRIC_KINDS[rule.metric as AlertMetric].includes(k)) : METRIC_KINDS[rule.metric as AlertMetric]);
    const targets = world.rows.filter((r) => kinds.has(r.kind) && inScope(rule.scope, r, world.byId));
    const open = await db
      .select({ resourceId: alerts.resourceId, kind: alerts.kind })
      .from(alerts)
      .where(and(eq(alerts.ruleId, rule.id), inArray(alerts.state, ['pending', 'firing', 'acknowledged'])));
    const isOpen = new Set(open.map((a) => `${a.kind}\u0000${a.resourceId}`));
    const targetIds = new Set(targets.map((t) => t.id));

    const jobs: Array<() => Promise<unknown>> = [];
    let breaching = 0;
    for (const r of targets) {
      const { metric, nodata } = observe(rule, r, world, now);
      if (metric?.status === 'breach') {
        breaching++;
        jobs.push(() => start(rule, r, 'metric', metric));
      } else if (metric && isOpen.has(`metric\u0000${r.id}`)) {
        jobs.push(() => signal(rule, r.id, 'metric', metric));
      }
      if (rule.noData === 'alert') {
        const base = { at: now, value: null, rule: snapshot(rule) };
        if (nodata === 'open') jobs.push(() => start(rule, r, 'nodata', { ...base, status: 'breach' }));
        else if (nodata === 'clear' && isOpen.has(`nodata\u0000${r.id}`)) jobs.push(() => signal(rule, r.id, 'nodata', { ...base, status: 'clear' }));
      }
    }
    // Open alerts of resources the rule no longer covers (scope changed, resource gone).
    for (const a of open) {
      if (a.resourceId && !targetIds.has(a.resourceId)) {
        jobs.push(() => signal(rule, a.resourceId!, a.kind as 'metric' | 'nodata', { at: now, status: 'gone', value: null, rule: snapshot(rule), reason: 'no longer covered by the rule' }));
      }
    }
    await eachLimited(jobs, concurrency, (job) => job().then(() => undefined));
    return { ruleId: rule.id, resources: targets.length, breaching, signalled: jobs.length };
  }

  return {
    /** The rules to evaluate now (every organization's enabled rules). */
    async listEnabledRules(): Promise<string[]> {
      return (await db.select({ id: alertRules.id }).from(alertRules).where(eq(alertRules.enabled, true))).map((r) => r.id);
    },

    /** One rule over every resource it covers, heartbeating (see keep-alive). */
    evaluateRule: (input: { ruleId: string }): Promise<EvaluateResult> => whileAlive(() => evaluateRule(input)),

    /** One resource, now: what an alert workflow asks when its last observation is stale. */
    async observeAlert(input: { ruleId: string; resourceId: string; kind: 'metric' | 'nodata' | 'unreachable' }): Promise<Observation> {
      const now = Date.now();
      const [rule] = await db.select().from(alertRules).where(eq(alertRules.id, input.ruleId));
      const gone = (reason: string): Observation => ({ at: now, status: 'gone', value: null, reason, rule: rule ? snapshot(rule) : { name: '', metric: '', comparison: '>', threshold: 0, clearThreshold: 0, forSeconds: 0, repeatSeconds: 0, severity: 'info' } });
      if (!rule) return gone('the rule was deleted');
      if (!rule.enabled) return gone('the rule was disabled');
      const world = await loadWorld(db, rule.tenantId, now);
      const r = world.byId.get(input.resourceId);
      if (!r) return gone('the resource is gone');
      const { metric, nodata } = observe(rule, r, world, now);
      if (input.kind === 'nodata') {
        const base = { at: now, value: null, rule: snapshot(rule) };
        return nodata === 'open' ? { ...base, status: 'breach' } : nodata === 'clear' ? { ...base, status: 'clear' } : { ...base, status: 'inhibited' };
      }
      return metric ?? gone(`${r.name} has no ${rule.metric}`);
    },
  };
}

export type EvaluateActivities = ReturnType<typeof createEvaluateActivities>;
