/**
 * The start benchmark's client, in a process of its own (forked by `bench/starts.ts`): it makes
 * the starts of every side, through the API over HTTP and with Temporal's client directly, and
 * times them. A real client of either runs apart from the API; in the API's own process, its
 * HTTP client would share the API's one event loop and be counted as the API's cost
 * (bench/README.md, "Where the rest goes").
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
import { Agent, request } from 'node:http';

export interface StartClientConfig {
  baseUrl: string;
  auth: Record<string, string>;
  /** The bare HTTP server's URL (bench/bare-server.ts). */
  bareUrl: string;
  temporalAddress: string;
  taskQueue: string;
  tenantId: string;
  actor: string;
  /** The API's key ring and database: the raw client seals payloads as the API's client does. */
  keySpec: string;
  dbUrl: string;
}

export type StartSideName = 'keelson' | 'bareHttp' | 'raw' | 'rawAttributes';

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

/**
 * `POST /api/runs` over HTTP/1.1 keep-alive (one connection per start in flight), authenticated
 * with the seeded API key (or the same request to the bare server); the JSON answer is read.
 * Made with `node:http`, as load generators (`autocannon`, `wrk`) make requests: `fetch` builds a
 * Web `Request` and `Response` around each one and reads them as Web streams, several times the
 * CPU of the request itself, which on two shared cores is taken from the API and Temporal
 * (bench/README.md, "The API's own CPU per request").
 */
function httpStarter(url: URL, auth: Record<string, string>): Starter {
  const body = JSON.stringify({ operation: 'system.noop', input: {} });
  const headers = { ...auth, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  // Idle connections are closed after 4 s, before the server's own 5 s: a start never goes out on
  // a connection the server is closing.
  const agent = new Agent({ keepAlive: true, timeout: 4_000 });
  return () =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 201) return reject(new Error(`POST ${url.pathname} answered ${res.statusCode}: ${text}`));
          resolve((JSON.parse(text) as { workflowId: string }).workflowId);
        });
      });
      req.on('error', (err) => reject(new Error(`POST ${url.pathname}: ${err.message}`, { cause: err })));
      req.end(body);
    });
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
        starters = {
          keelson: httpStarter(new URL('/api/runs', config.baseUrl), config.auth),
          bareHttp: httpStarter(new URL(config.bareUrl), {}),
          raw: rawStarter(config, client, false),
          rawAttributes: rawStarter(config, client, true),
        };
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
