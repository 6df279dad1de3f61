import { createRoute, z } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { ValidationError } from '../../errors';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import { serviceContext } from '../../services/context';
import { acknowledgeAlert, getAlert, listAlerts } from '../../services/monitoring/alerts-service';
import { listResources, overview, presentResource, requireResource, resourceByRef, series } from '../../services/monitoring/metrics-service';
import { createRule, createSilence, createWindow, deleteRule, deleteWindow, expireSilence, listRules, listSilences, listWindows, presentRule, requireRule, updateRule, updateSilence, updateWindow } from '../../services/monitoring/rules-service';
import {
  AcknowledgeBody,
  AlertDetailSchema,
  AlertListQuery,
  AlertSchema,
  OverviewSchema,
  ResourceListQuery,
  ResourceSchema,
  RuleBody,
  RuleSchema,
  SeriesByRefQuery,
  SeriesQuery,
  SeriesSchema,
  SilenceBody,
  SilenceListQuery,
  SilenceSchema,
  WindowBody,
  WindowSchema,
} from './schema';

const tags = ['monitoring'];
const read = [requirePermission('monitoring.read')];
const manage = [requirePermission('alert.manage')];
const ok = <T extends z.ZodType>(schema: T, description: string) => ({ 200: jsonResponse(schema, description), ...errorResponses });
const created = <T extends z.ZodType>(schema: T, description: string) => ({ 201: jsonResponse(schema, description), ...errorResponses });
const noContent = { 204: { description: 'Done' }, ...errorResponses };

const RANGE_MS = { '15m': 15 * 60_000, '1h': 3600_000, '6h': 6 * 3600_000, '24h': 24 * 3600_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
function rangeOf(q: z.infer<typeof SeriesQuery>): { from: Date; to: Date } {
  if (q.range && (q.from || q.to)) throw new ValidationError('range: give either range or from/to', { issues: [{ path: 'range', message: 'give either range or from/to' }] });
  const to = q.to ? new Date(q.to) : new Date();
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - RANGE_MS[q.range ?? '1h']);
  return { from, to };
}

const routes = {
  overview: createRoute({ method: 'get', path: '/overview', tags, summary: 'What to look at first: runs failing now, alerts firing, busiest and unreachable resources', middleware: read, responses: ok(OverviewSchema, 'Overview') }),
  resources: createRoute({ method: 'get', path: '/resources', tags, summary: 'Monitored resources with their latest values', middleware: read, request: { query: ResourceListQuery }, responses: ok(z.object({ items: z.array(ResourceSchema) }), 'Resources') }),
  resource: createRoute({ method: 'get', path: '/resources/{id}', tags, summary: 'One monitored resource', middleware: read, request: { params: UuidParam }, responses: ok(ResourceSchema, 'The resource') }),
  resourceSeries: createRoute({ method: 'get', path: '/resources/{id}/series', tags, summary: "A resource's points over a time range (raw for the last day, 5-minute rollups before)", middleware: read, request: { params: UuidParam, query: SeriesQuery }, responses: ok(SeriesSchema, 'Points') }),
  seriesByRef: createRoute({ method: 'get', path: '/series', tags, summary: "The points of the resource standing for a Keelson record (a guest's, a container's, a node's, an app's page)", middleware: read, request: { query: SeriesByRefQuery }, responses: ok(SeriesSchema, 'Points') }),
  alerts: createRoute({ method: 'get', path: '/alerts', tags, summary: 'Alerts, newest first (history per resource or rule with resourceId / ruleId)', middleware: read, request: { query: AlertListQuery }, responses: ok(z.object({ items: z.array(AlertSchema) }), 'Alerts') }),
  alert: createRoute({ method: 'get', path: '/alerts/{id}', tags, summary: 'One alert and its notifications', middleware: read, request: { params: UuidParam }, responses: ok(AlertDetailSchema, 'The alert') }),
  acknowledge: createRoute({ method: 'post', path: '/alerts/{id}/acknowledge', tags, summary: 'Acknowledge a firing alert as the caller (its workflow stops reminding)', middleware: [requirePermission('alert.acknowledge')], request: { params: UuidParam, body: jsonBody(AcknowledgeBody) }, responses: ok(AlertDetailSchema, 'Acknowledged') }),
  rules: createRoute({ method: 'get', path: '/rules', tags, summary: 'Alert rules', middleware: read, responses: ok(z.object({ items: z.array(RuleSchema) }), 'Rules') }),
  rule: createRoute({ method: 'get', path: '/rules/{id}', tags, summary: 'One alert rule', middleware: read, request: { params: UuidParam }, responses: ok(RuleSchema, 'The rule') }),
  createRule: createRoute({ method: 'post', path: '/rules', tags, summary: 'Create an alert rule', middleware: manage, request: { body: jsonBody(RuleBody) }, responses: created(RuleSchema, 'Created') }),
  updateRule: createRoute({ method: 'put', path: '/rules/{id}', tags, summary: 'Replace an alert rule (webhookSecret omitted: kept)', middleware: manage, request: { params: UuidParam, body: jsonBody(RuleBody) }, responses: ok(RuleSchema, 'Updated') }),
  deleteRule: createRoute({ method: 'delete', path: '/rules/{id}', tags, summary: 'Delete an alert rule (its open alerts resolve)', middleware: manage, request: { params: UuidParam }, responses: noContent }),
  silences: createRoute({ method: 'get', path: '/silences', tags, summary: 'Silences (current and future; expired ones on request)', middleware: read, request: { query: SilenceListQuery }, responses: ok(z.object({ items: z.array(SilenceSchema) }), 'Silences') }),
  createSilence: createRoute({ method: 'post', path: '/silences', tags, summary: 'Silence matching alerts for a time window', middleware: manage, request: { body: jsonBody(SilenceBody) }, responses: created(SilenceSchema, 'Created') }),
  updateSilence: createRoute({ method: 'put', path: '/silences/{id}', tags, summary: 'Change a silence (matchers, times, comment); alerts look again at once', middleware: manage, request: { params: UuidParam, body: jsonBody(SilenceBody) }, responses: ok(SilenceSchema, 'Updated') }),
  expireSilence: createRoute({ method: 'delete', path: '/silences/{id}', tags, summary: 'End a silence now; alerts it held notify if still firing', middleware: manage, request: { params: UuidParam }, responses: noContent }),
  windows: createRoute({ method: 'get', path: '/maintenance-windows', tags, summary: 'Maintenance windows', middleware: read, responses: ok(z.object({ items: z.array(WindowSchema) }), 'Windows') }),
  createWindow: createRoute({ method: 'post', path: '/maintenance-windows', tags, summary: 'Plan a maintenance window (once, or weekly)', middleware: manage, request: { body: jsonBody(WindowBody) }, responses: created(WindowSchema, 'Created') }),
  updateWindow: createRoute({ method: 'put', path: '/maintenance-windows/{id}', tags, summary: 'Change a maintenance window', middleware: manage, request: { params: UuidParam, body: jsonBody(WindowBody) }, responses: ok(WindowSchema, 'Updated') }),
  deleteWindow: createRoute({ method: 'delete', path: '/maintenance-windows/{id}', tags, summary: 'Remove a maintenance window', middleware: manage, request: { params: UuidParam }, responses: noContent }),
};

/** Mounted at /api/monitoring. */
export function monitoringRoutes() {
  return createRouter()
    .openapi(routes.overview, async (c) => c.json(OverviewSchema.parse(await overview(serviceContext(c))), 200))
    .openapi(routes.resources, async (c) => c.json({ items: z.array(ResourceSchema).parse(await listResources(serviceContext(c), c.req.valid('query'))) }, 200))
    .openapi(routes.resource, async (c) => c.json(ResourceSchema.parse(presentResource(await requireResource(serviceContext(c), c.req.valid('param').id))), 200))
    .openapi(routes.resourceSeries, async (c) => {
      const ctx = serviceContext(c);
      const resource = await requireResource(ctx, c.req.valid('param').id);
      const range = rangeOf(c.req.valid('query'));
      return c.json(SeriesSchema.parse({ resource: presentResource(resource), from: range.from.toISOString(), to: range.to.toISOString(), ...(await series(ctx, resource, range)) }), 200);
    })
    .openapi(routes.seriesByRef, async (c) => {
      const ctx = serviceContext(c);
      const q = c.req.valid('query');
      const resource = await resourceByRef(ctx, q.kind, q.refId);
      const range = rangeOf(q);
      return c.json(SeriesSchema.parse({ resource: presentResource(resource), from: range.from.toISOString(), to: range.to.toISOString(), ...(await series(ctx, resource, range)) }), 200);
    })
    .openapi(routes.alerts, async (c) => c.json({ items: z.array(AlertSchema).parse(await listAlerts(serviceContext(c), c.req.valid('query'))) }, 200))
    .openapi(routes.alert, async (c) => c.json(AlertDetailSchema.parse(await getAlert(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(routes.acknowledge, async (c) => c.json(AlertDetailSchema.parse(await acknowledgeAlert(serviceContext(c), c.req.valid('param').id, c.req.valid('json').comment)), 200))
    .openapi(routes.rules, async (c) => c.json({ items: z.array(RuleSchema).parse(await listRules(serviceContext(c))) }, 200))
    .openapi(routes.rule, async (c) => c.json(RuleSchema.parse(presentRule(await requireRule(serviceContext(c), c.req.valid('param').id))), 200))
    .openapi(routes.createRule, async (c) => c.json(RuleSchema.parse(await createRule(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(routes.updateRule, async (c) => c.json(RuleSchema.parse(await updateRule(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(routes.deleteRule, async (c) => {
      await deleteRule(serviceContext(c), c.req.valid('param').id);
      return c.body(null, 204);
    })
    .openapi(routes.silences, async (c) => c.json({ items: z.array(SilenceSchema).parse(await listSilences(serviceContext(c), c.req.valid('query').includeExpired)) }, 200))
    .openapi(routes.createSilence, async (c) => c.json(SilenceSchema.parse(await createSilence(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(routes.updateSilence, async (c) => c.json(SilenceSchema.parse(await updateSilence(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(routes.expireSilence, async (c) => {
      await expireSilence(serviceContext(c), c.req.valid('param').id);
      return c.body(null, 204);
    })
    .openapi(routes.windows, async (c) => c.json({ items: z.array(WindowSchema).parse(await listWindows(serviceContext(c))) }, 200))
    .openapi(routes.createWindow, async (c) => c.json(WindowSchema.parse(await createWindow(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(routes.updateWindow, async (c) => c.json(WindowSchema.parse(await updateWindow(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(routes.deleteWindow, async (c) => {
      await deleteWindow(serviceContext(c), c.req.valid('param').id);
      return c.body(null, 204);
    });
}
