import { createRoute } from '@hono/zod-openapi';
import { requirePermission, requireStaff } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import { backfillBillingRuns, describeBillingSchedule, ensureBillingSchedule, pauseBillingSchedule, resumeBillingSchedule, triggerBillingRun } from '../../services/billing/schedule-service';
import { createTaxRule, deleteTaxRule, getBillingSettings, listTaxRules, putBillingSettings, updateTaxRule } from '../../services/billing/settings-service';
import { getDunningSettings, putDunningSettings } from '../../services/billing/dunning-service';
import { serviceContext } from '../../services/context';
import { BackfillBody, BillingSettingsBody, DunningSettingsBody, DunningSettingsSchema, BillingSettingsSchema, BillingSettingsStateSchema, PauseBody, ScheduleSchema, TaxRuleBody, TaxRuleListSchema, TaxRuleSchema } from './schema';

const tags = ['billing'];
const manage = [requirePermission('billing.manage')];
// Customer users hold billing.read for their own documents; the organization's settings and
// schedule are staff matters (the services refuse customer users).
const staffOnly = [requirePermission('billing.read'), requireStaff];

const getSettings = createRoute({ method: 'get', path: '/settings', tags, summary: "The organization's billing profile and run timing", middleware: staffOnly, responses: { 200: jsonResponse(BillingSettingsStateSchema, 'The settings, or null'), ...errorResponses } });
const putSettings = createRoute({
  method: 'put',
  path: '/settings',
  tags,
  summary: 'Set the billing profile; the billing Schedule follows the run hour and zone',
  middleware: manage,
  request: { body: jsonBody(BillingSettingsBody) },
  responses: { 200: jsonResponse(BillingSettingsSchema, 'Stored'), ...errorResponses },
});
const getDunning = createRoute({ method: 'get', path: '/dunning', tags, summary: "The organization's dunning ladder (the default until set)", middleware: staffOnly, responses: { 200: jsonResponse(DunningSettingsSchema, 'The ladder'), ...errorResponses } });
const putDunning = createRoute({
  method: 'put',
  path: '/dunning',
  tags,
  summary: 'Set the dunning ladder: what happens how many days after the due date (invoices already being dunned keep their plan)',
  middleware: manage,
  request: { body: jsonBody(DunningSettingsBody) },
  responses: { 200: jsonResponse(DunningSettingsSchema, 'The ladder'), ...errorResponses },
});
const listRules = createRoute({ method: 'get', path: '/tax-rules', tags, summary: 'Tax rules by customer country', middleware: staffOnly, responses: { 200: jsonResponse(TaxRuleListSchema, 'Rules'), ...errorResponses } });
const createRule = createRoute({ method: 'post', path: '/tax-rules', tags, summary: 'Add a tax rule', middleware: manage, request: { body: jsonBody(TaxRuleBody) }, responses: { 201: jsonResponse(TaxRuleSchema, 'Created'), ...errorResponses } });
const updateRule = createRoute({ method: 'put', path: '/tax-rules/{id}', tags, summary: 'Replace a tax rule (finalized invoices keep their rates)', middleware: manage, request: { params: UuidParam, body: jsonBody(TaxRuleBody) }, responses: { 200: jsonResponse(TaxRuleSchema, 'Updated'), ...errorResponses } });
const deleteRule = createRoute({ method: 'delete', path: '/tax-rules/{id}', tags, summary: 'Remove a tax rule', middleware: manage, request: { params: UuidParam }, responses: { 204: { description: 'Removed' }, ...errorResponses } });
const schedule = createRoute({ method: 'get', path: '/schedule', tags, summary: 'The billing Schedule: state, next and recent runs', middleware: staffOnly, responses: { 200: jsonResponse(ScheduleSchema, 'The schedule'), ...errorResponses } });
const pause = createRoute({ method: 'post', path: '/schedule/pause', tags, summary: 'Pause the daily billing run', middleware: manage, request: { body: jsonBody(PauseBody) }, responses: { 200: jsonResponse(ScheduleSchema, 'Paused'), ...errorResponses } });
const resume = createRoute({ method: 'post', path: '/schedule/resume', tags, summary: 'Resume the daily billing run', middleware: manage, responses: { 200: jsonResponse(ScheduleSchema, 'Resumed'), ...errorResponses } });
const trigger = createRoute({ method: 'post', path: '/schedule/trigger', tags, summary: 'Start a billing run now', middleware: manage, responses: { 200: jsonResponse(ScheduleSchema, 'Triggered'), ...errorResponses } });
const backfill = createRoute({ method: 'post', path: '/schedule/backfill', tags, summary: 'Run the days missed between from and to', middleware: manage, request: { body: jsonBody(BackfillBody) }, responses: { 200: jsonResponse(ScheduleSchema, 'Backfilled'), ...errorResponses } });

/** Mounted at /api/billing. */
export function billingRoutes() {
  return createRouter()
    .openapi(getSettings, async (c) => c.json(BillingSettingsStateSchema.parse({ settings: await getBillingSettings(serviceContext(c)) }), 200))
    .openapi(putSettings, async (c) => {
      const ctx = serviceContext(c);
      const stored = await putBillingSettings(ctx, c.req.valid('json'));
      await ensureBillingSchedule(ctx);
      return c.json(BillingSettingsSchema.parse(stored), 200);
    })
    .openapi(getDunning, async (c) => c.json(DunningSettingsSchema.parse(await getDunningSettings(serviceContext(c))), 200))
    .openapi(putDunning, async (c) => c.json(DunningSettingsSchema.parse(await putDunningSettings(serviceContext(c), c.req.valid('json'))), 200))
    .openapi(listRules, async (c) => c.json(TaxRuleListSchema.parse({ items: await listTaxRules(serviceContext(c)) }), 200))
    .openapi(createRule, async (c) => c.json(TaxRuleSchema.parse(await createTaxRule(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(updateRule, async (c) => c.json(TaxRuleSchema.parse(await updateTaxRule(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(deleteRule, async (c) => {
      await deleteTaxRule(serviceContext(c), c.req.valid('param').id);
      return c.body(null, 204);
    })
    .openapi(schedule, async (c) => c.json(ScheduleSchema.parse(await describeBillingSchedule(serviceContext(c))), 200))
    .openapi(pause, async (c) => c.json(ScheduleSchema.parse(await pauseBillingSchedule(serviceContext(c), c.req.valid('json').note)), 200))
    .openapi(resume, async (c) => c.json(ScheduleSchema.parse(await resumeBillingSchedule(serviceContext(c))), 200))
    .openapi(trigger, async (c) => c.json(ScheduleSchema.parse(await triggerBillingRun(serviceContext(c))), 200))
    .openapi(backfill, async (c) => {
      const { from, to } = c.req.valid('json');
      return c.json(ScheduleSchema.parse(await backfillBillingRuns(serviceContext(c), from, to)), 200);
    });
}
