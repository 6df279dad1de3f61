import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { requirePermission } from '../../auth/middleware';
import { createRouter } from '../../router';
import { errorResponses } from '../../schemas';
import { serviceContext } from '../../services/context';
import { requireRun } from '../../services/runs-service';
import { parseCursor, streamRun, type StreamEvent } from '../../services/run-stream';
import { RunIdParams, RunStreamEventSchemas } from './schema';

const route = createRoute({
  method: 'get',
  path: '/{workflowId}/stream',
  tags: ['runs'],
  summary: "Server-Sent Events: the run's history, steps and output; resumable with Last-Event-ID",
  middleware: [requirePermission('workflow.read')] as const,
  request: {
    params: RunIdParams,
    query: z.object({ cursor: z.string().regex(/^\d+-\d+$/).optional() }),
  },
  responses: {
    200: { description: 'text/event-stream of `history`, `steps`, `log` and a final `end` event', content: { 'text/event-stream': { schema: z.string() } } },
    ...errorResponses,
  },
});

const KEEPALIVE_MS = 15_000;

export const streamRunRoute = createRouter().openapi(route, async (c) => {
  const ctx = serviceContext(c);
  const { workflowId } = c.req.valid('param');
  // Fail with a JSON 404 before switching to a stream.
  await requireRun(ctx, workflowId);
  const cursor = parseCursor(c.req.header('last-event-id') ?? c.req.valid('query').cursor);
  c.header('X-Accel-Buffering', 'no');
  return streamSSE(
    c,
    async (stream) => {
      const abort = new AbortController();
      stream.onAbort(() => abort.abort());
      const keepalive = setInterval(() => void stream.write(': keepalive\n\n').catch(() => abort.abort()), KEEPALIVE_MS);
      try {
        // Each event's data through its schema, as every JSON answer is: nothing unlisted leaves.
        const send = (e: StreamEvent) => stream.writeSSE({ event: e.event, id: e.id, data: JSON.stringify(RunStreamEventSchemas[e.event].parse(e.data)) });
        await streamRun(ctx, workflowId, cursor, send, abort.signal);
      } finally {
        clearInterval(keepalive);
      }
    },
    async (err, stream) => {
      await stream.writeSSE({ event: 'error', data: JSON.stringify({ message: err.message }) });
    },
  ) as never;
});
