/**
 * The start benchmark's client, in a process of its own (forked by `bench/starts.ts`): it makes
 * the starts of every side, through the API over HTTP and with Temporal's client directly, and
 * times them. A real client of either runs apart from the API; in the API's own process, its
 * `fetch` (undici and its web streams) would share the API's one event loop and be counted as the
 * API's cost (bench/README.md, "Where the rest goes").
 *
 * Protocol over the IPC channel: `init` (the config below) → `ready`; `batch` → `batch` with the
 * timings; `close` → the process exits.
 */
import { parseKeyRing } from '@keelson/common/codec';
import { WorkflowId, WorkflowType } from '@keelson/common/constants';
import { runSearchAttributes } from '@keelson/common/search-attributes';
import { keelsonDataConverter } from '@keelson/common/temporal';
import { connectDb, dataKeysFor } from '@keelson/db';
import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';

export interface StartClientConfig {
  baseUrl: string;
  auth: Record<string, string>;
  temporalAddress: string;
  taskQueue: string;
  tenantId: string;
  actor: string;
  /** The API's key ring and database: the raw client seals payloads as the API's client does. */
  keySpec: string;
  dbUrl: string;
}

export type StartSideName = 'keelson' | 'raw' | 'rawAttributes';

export interface BatchTimings {
  /** Wall time from the batch's first start to its last answer. */
  ms: number;
  latencies: number[];
  ids: string[];
}

export type StartClientRequest =
  | { type: 'init'; config: StartClientConfig }
  | { type: 'batch'; side: StartSideName; count: number; concurrency: number }
  | { type: 'close' };

export type StartClientReply = { type: 'ready' } | { type: 'batch'; timings: BatchTimings } | { type: 'error'; message: string };

type Starter = () => Promise<string>;

/** `POST /api/runs` over HTTP, authenticated with the seeded API key; the JSON answer is read. */
function keelsonStarter(config: StartClientConfig): Starter {
  const url = `${config.baseUrl}/api/runs`;
  const body = JSON.stringify({ operation: 'system.noop', input: {} });
  const headers = { ...config.auth, 'content-type': 'application/json' };
  return async () => {
    const res = await fetch(url, { method: 'POST', headers, body }).catch((err: Error) => {
      // fetch's own message ("fetch failed") hides why; the cause says it.
      throw new Error(`POST /api/runs: ${err.message}: ${(err.cause as Error | undefined)?.message ?? 'no cause'}`, { cause: err });
    });
    const text = await res.text();
    if (res.status !== 201) throw new Error(`POST /api/runs answered ${res.status}: ${text}`);
    return (JSON.parse(text) as { workflowId: string }).workflowId;
  };
}

/** The baseline: the same workflow and input with a client like the API's, without HTTP, auth or audit. */
function rawStarter(config: StartClientConfig, client: Client, withAttributes: boolean): Starter {
  const typedSearchAttributes = withAttributes
    ? runSearchAttributes({ tenantId: config.tenantId, operation: 'system.noop', resources: [], actor: config.actor })
    : undefined;
  return async () => {
    const handle = await client.workflow.start(WorkflowType.noop, {
      taskQueue: config.taskQueue,
      workflowId: WorkflowId.noop(randomUUID()),
      args: [{ tenantId: config.tenantId, actor: config.actor }],
      typedSearchAttributes,
    });
    return handle.workflowId;
  };
}

async function runBatch(start: Starter, count: number, concurrency: number): Promise<BatchTimings> {
  const latencies: number[] = [];
  const ids: string[] = [];
  let issued = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (issued < count) {
        issued++;
        const s = performance.now();
        const id = await start();
        latencies.push(performance.now() - s);
        ids.push(id);
      }
    }),
  );
  return { ms: performance.now() - t0, latencies, ids };
}

const reply = (message: StartClientReply) => process.send!(message);
let starters: Record<StartSideName, Starter> | undefined;
let close: (() => Promise<void>) | undefined;

process.on('message', (request: StartClientRequest) => {
  void (async () => {
    try {
      if (request.type === 'init') {
        const { config } = request;
        const keys = parseKeyRing(config.keySpec);
        const db = connectDb(config.dbUrl, { max: 2 });
        const connection = await Connection.connect({ address: config.temporalAddress });
        const client = new Client({ connection, namespace: 'default', dataConverter: keelsonDataConverter(keys, dataKeysFor(db.db, keys)) });
        starters = { keelson: keelsonStarter(config), raw: rawStarter(config, client, false), rawAttributes: rawStarter(config, client, true) };
        close = async () => {
          await connection.close();
          await db.close();
        };
        reply({ type: 'ready' });
      } else if (request.type === 'batch') {
        reply({ type: 'batch', timings: await runBatch(starters![request.side], request.count, request.concurrency) });
      } else {
        await close?.();
        process.exit(0);
      }
    } catch (err) {
      reply({ type: 'error', message: (err as Error).stack ?? String(err) });
    }
  })();
});
