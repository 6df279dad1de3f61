import { createRoute } from '@hono/zod-openapi';
import { requireAnyPermission, requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses, jsonBody, jsonResponse, StartedRunSchema } from '../../schemas';
import { serviceContext } from '../../services/context';
import { cancelRun, decideApproval, rerun, retryRun, signalRun, terminateRun, updateRun } from '../../services/runs-service';
import { AcceptedSchema as Accepted, ApprovalDecisionSchema, DecisionBody, MessageBody, RetriedRunSchema, RunIdParams, RunIdQuery, TerminateBody, UpdateResultSchema } from './schema';

const request = { params: RunIdParams, query: RunIdQuery };

const cancel = createRoute({
  method: 'post',
  path: '/{workflowId}/cancel',
  tags: ['runs'],
  summary: 'Request cancellation; the workflow compensates and stops',
  middleware: [requirePermission('workflow.cancel')] as const,
  request,
  responses: { 202: jsonResponse(Accepted, 'Cancellation requested'), ...errorResponses },
});

const terminate = createRoute({
  method: 'post',
  path: '/{workflowId}/terminate',
  tags: ['runs'],
  summary: 'Terminate at once, without compensation, with a reason',
  middleware: [requirePermission('workflow.terminate')] as const,
  request: { ...request, body: jsonBody(TerminateBody) },
  responses: { 200: jsonResponse(Accepted, 'Terminated'), ...errorResponses },
});

const retry = createRoute({
  method: 'post',
  path: '/{workflowId}/retry',
  tags: ['runs'],
  summary: 'Retry a failed run from the step that failed',
  middleware: [requirePermission('workflow.retry')] as const,
  request,
  responses: { 200: jsonResponse(RetriedRunSchema, 'The new run of the same workflow'), ...errorResponses },
});

const rerunRoute = createRoute({
  method: 'post',
  path: '/{workflowId}/rerun',
  tags: ['runs'],
  summary: 'Start a new run of the same operation with the same input',
  middleware: [requirePermission('workflow.start')] as const,
  request,
  responses: { 201: jsonResponse(StartedRunSchema, 'The new run'), ...errorResponses },
});

const signal = createRoute({
  method: 'post',
  path: '/{workflowId}/signal',
  tags: ['runs'],
  summary: 'Send a signal to a running workflow',
  middleware: [requirePermission('workflow.signal')] as const,
  request: { ...request, body: jsonBody(MessageBody) },
  responses: { 202: jsonResponse(Accepted, 'Signal delivered'), ...errorResponses },
});

const update = createRoute({
  method: 'post',
  path: '/{workflowId}/update',
  tags: ['runs'],
  summary: 'Send a Workflow Update (approve, reject, …) and wait for its result',
  middleware: [requirePermission('workflow.signal')] as const,
  request: { ...request, body: jsonBody(MessageBody) },
  responses: { 200: jsonResponse(UpdateResultSchema, 'The update result'), ...errorResponses },
});

const decide = createRoute({
  method: 'post',
  path: '/{workflowId}/approval',
  tags: ['runs'],
  summary: 'Approve or reject what the run is waiting for, as the caller',
  description:
    "Answers the approval request shown in the run's steps. 409 when the run is not waiting for one. Needs workflow.signal; billing managers (billing.manage) answer the termination approvals of their organization's dunning runs only.",
  middleware: [requireAnyPermission('workflow.signal', 'billing.manage')] as const,
  request: { ...request, body: jsonBody(DecisionBody) },
  responses: { 200: jsonResponse(ApprovalDecisionSchema, 'The recorded decision'), ...errorResponses },
});

export const runActionsRoute = createRouter()
  .openapi(cancel, async (c) => {
    await cancelRun(serviceContext(c), c.req.valid('param').workflowId, c.req.valid('query').runId);
    return c.json({ ok: true as const }, 202);
  })
  .openapi(terminate, async (c) => {
    await terminateRun(serviceContext(c), c.req.valid('param').workflowId, c.req.valid('json').reason, c.req.valid('query').runId);
    return c.json({ ok: true as const }, 200);
  })
  .openapi(retry, async (c) => {
    const { workflowId } = c.req.valid('param');
    const { runId } = await retryRun(serviceContext(c), workflowId, c.req.valid('query').runId);
    return c.json({ workflowId, runId }, 200);
  })
  .openapi(rerunRoute, async (c) => c.json(await rerun(serviceContext(c), c.req.valid('param').workflowId, c.req.valid('query').runId), 201))
  .openapi(signal, async (c) => {
    const { name, args } = c.req.valid('json');
    await signalRun(serviceContext(c), c.req.valid('param').workflowId, name, args, c.req.valid('query').runId);
    return c.json({ ok: true as const }, 202);
  })
  .openapi(decide, async (c) => {
    const { decision, comment } = c.req.valid('json');
    return c.json(await decideApproval(serviceContext(c), c.req.valid('param').workflowId, decision, comment, c.req.valid('query').runId), 200);
  })
  .openapi(update, async (c) => {
    const { name, args } = c.req.valid('json');
    const result = await updateRun(serviceContext(c), c.req.valid('param').workflowId, name, args, c.req.valid('query').runId);
    return c.json({ result }, 200);
  });
