import { RUN_LOG_CHANNEL } from '@keelson/common/constants';
import type pg from 'pg';

type Wake = () => void;

/**
 * One LISTEN connection per API process, fanned out to every open run stream. Notifications
 * only wake readers, which then read the table, so a missed one costs latency, never data
 * (readers also poll on a timer).
 */
export class RunLogHub {
  private readonly listeners = new Map<string, Set<Wake>>();
  private client: pg.PoolClient | null = null;
  private connecting: Promise<void> | null = null;

  constructor(private readonly pool: pg.Pool) {}

  private readonly onNotification = (msg: pg.Notification) => {
    for (const wake of this.listeners.get(msg.payload ?? '') ?? []) wake();
  };

  private readonly onError = () => {
    if (this.client) this.drop(this.client);
  };

  /** Gives the connection back without the hub's listeners; once pooled, it is not the hub's. */
  private detach(client: pg.PoolClient) {
    client.off('notification', this.onNotification);
    client.off('error', this.onError);
  }

  subscribe(workflowId: string, wake: Wake): () => void {
    let set = this.listeners.get(workflowId);
    if (!set) this.listeners.set(workflowId, (set = new Set()));
    set.add(wake);
    void this.ensureListening();
    return () => {
      set.delete(wake);
      if (set.size === 0) this.listeners.delete(workflowId);
    };
  }

  private ensureListening(): Promise<void> {
    if (this.client) return Promise.resolve();
    this.connecting ??= (async () => {
      let client: pg.PoolClient | undefined;
      try {
        client = await this.pool.connect();
        client.on('notification', this.onNotification);
        client.on('error', this.onError);
        await client.query(`LISTEN ${RUN_LOG_CHANNEL}`);
        this.client = client;
      } catch {
        // Readers keep polling; the next subscribe tries again.
        if (client) {
          this.detach(client);
          client.release(true);
        }
      } finally {
        this.connecting = null;
      }
    })();
    return this.connecting;
  }

  /** A broken LISTEN connection is destroyed, once; the next subscribe opens another. */
  private drop(client: pg.PoolClient) {
    if (this.client !== client) return;
    this.client = null;
    this.detach(client);
    client.release(true);
  }

  async close(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = null;
    this.detach(client);
    await client.query(`UNLISTEN ${RUN_LOG_CHANNEL}`).catch(() => {});
    client.release();
  }
}

const hubs = new WeakMap<pg.Pool, RunLogHub>();
/** The hub of a pool, created on first use; one per API process and database. */
export function runLogHub(pool: pg.Pool): RunLogHub {
  let hub = hubs.get(pool);
  if (!hub) hubs.set(pool, (hub = new RunLogHub(pool)));
  return hub;
}
