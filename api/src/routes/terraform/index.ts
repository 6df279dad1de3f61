import { createRoute } from '@hono/zod-openapi';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, UuidParam } from '../../schemas';
import { serviceContext } from '../../services/context';
import { checkDriftNow, createStack, getRun, getStack, listStackRuns, listStacks, startStackRun, updateStack } from '../../services/terraform/stacks-service';
import { DriftCheckSchema, RunListSchema, RunSchema, StackBody, StackDetailSchema, StackListSchema, StackPatch, StackSchema, StartedStackRunSchema, StartRunBody } from './schema';

const tags = ['terraform'];
const read = [requirePermission('terraform.read')];
const manage = [requirePermission('terraform.manage')];

const list = createRoute({ method: 'get', path: '/stacks', tags, summary: 'Terraform stacks', middleware: read, responses: { 200: jsonResponse(StackListSchema, 'Stacks'), ...errorResponses } });
const get = createRoute({
  method: 'get',
  path: '/stacks/{id}',
  tags,
  summary: 'A stack: variables (secrets only as set), outputs, recent runs, open drift',
  middleware: read,
  request: { params: UuidParam },
  responses: { 200: jsonResponse(StackDetailSchema, 'The stack'), ...errorResponses },
});
const create = createRoute({
  method: 'post',
  path: '/stacks',
  tags,
  summary: 'Create a stack (state in its own Postgres schema; secret variables sealed)',
  middleware: manage,
  request: { body: jsonBody(StackBody) },
  responses: { 201: jsonResponse(StackSchema, 'Created'), ...errorResponses },
});
const update = createRoute({
  method: 'patch',
  path: '/stacks/{id}',
  tags,
  summary: "Change a stack's variables, cluster or drift interval",
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(StackPatch) },
  responses: { 200: jsonResponse(StackSchema, 'Updated'), ...errorResponses },
});
const startRun = createRoute({
  method: 'post',
  path: '/stacks/{id}/runs',
  tags,
  summary: 'Plan, then apply after approval (a destroy needs the stack name as confirm)',
  middleware: manage,
  request: { params: UuidParam, body: jsonBody(StartRunBody) },
  responses: { 201: jsonResponse(StartedStackRunSchema, 'Started'), ...errorResponses },
});
const driftCheck = createRoute({
  method: 'post',
  path: '/stacks/{id}/drift-check',
  tags,
  summary: "Run the stack's drift check now (through its Schedule)",
  middleware: manage,
  request: { params: UuidParam },
  responses: { 202: jsonResponse(DriftCheckSchema, 'Triggered'), ...errorResponses },
});
const runs = createRoute({ method: 'get', path: '/stacks/{id}/runs', tags, summary: "A stack's runs", middleware: read, request: { params: UuidParam }, responses: { 200: jsonResponse(RunListSchema, 'Runs'), ...errorResponses } });
const run = createRoute({
  method: 'get',
  path: '/runs/{id}',
  tags,
  summary: 'A run with its plan diff (sensitive values masked) and outputs',
  middleware: read,
  request: { params: UuidParam },
  responses: { 200: jsonResponse(RunSchema, 'The run'), ...errorResponses },
});

/** Mounted at /api/terraform. Approval goes through the runs API (`POST /api/runs/{id}/approval`). */
export function terraformRoutes() {
  return createRouter()
    .openapi(list, async (c) => c.json(StackListSchema.parse({ items: await listStacks(serviceContext(c)) }), 200))
    .openapi(get, async (c) => c.json(StackDetailSchema.parse(await getStack(serviceContext(c), c.req.valid('param').id)), 200))
    .openapi(create, async (c) => c.json(StackSchema.parse(await createStack(serviceContext(c), c.req.valid('json'))), 201))
    .openapi(update, async (c) => c.json(StackSchema.parse(await updateStack(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 200))
    .openapi(startRun, async (c) => c.json(StartedStackRunSchema.parse(await startStackRun(serviceContext(c), c.req.valid('param').id, c.req.valid('json'))), 201))
    .openapi(driftCheck, async (c) => {
      await checkDriftNow(serviceContext(c), c.req.valid('param').id);
      return c.json({ triggered: true as const }, 202);
    })
    .openapi(runs, async (c) => c.json(RunListSchema.parse({ items: await listStackRuns(serviceContext(c), c.req.valid('param').id) }), 200))
    .openapi(run, async (c) => c.json(RunSchema.parse(await getRun(serviceContext(c), c.req.valid('param').id)), 200));
}
