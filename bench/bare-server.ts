/**
 * The floor of an HTTP API on this machine: a `node:http` server in the API's process that reads
 * a JSON body and makes exactly the start Keelson's API makes (the same client, the four search
 * attributes, the sealed start row in the memo, the ID policies, inside the organization's scope)
 * and answers `201 {"workflowId"}`. No routing, authentication, validation or audit row. Keelson's
 * figures against it are the cost of Keelson's own code; its figures against the raw client are
 * the cost of any HTTP hop on this machine.
 */
import { WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { runForTenant } from '@keelson/common/tenant-scope';
import { RUN_AUDIT_MEMO } from '@keelson/api/services/run-audit';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BenchPlatform } from './platform';

export interface BareServer {
  url: string;
  close(): Promise<void>;
}

export async function startBareServer(p: BenchPlatform): Promise<BareServer> {
  const start = async (input: Record<string, unknown>) => {
    const workflowId = WorkflowId.noop(randomUUID());
    const { actor, tenantId } = p;
    await runForTenant(tenantId, () =>
      p.client.workflow.start(WorkflowType.noop, {
        taskQueue: p.coreTaskQueue,
        workflowId,
        args: [{ ...input, tenantId, actor }],
        typedSearchAttributes: runSearchAttributes({ tenantId, operation: 'system.noop', resources: [], actor }),
        memo: {
          [RUN_AUDIT_MEMO]: { tenantId, actor, action: 'run.start', resourceType: 'run', resourceId: workflowId, details: { operation: 'system.noop', resources: [] }, key: randomUUID() },
        },
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      }),
    );
    return workflowId;
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      start((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input?: Record<string, unknown> }).input ?? {}).then(
        (workflowId) => answer(201, { workflowId }),
        (err: Error) => answer(500, { error: err.message }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
