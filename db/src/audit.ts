import { auditLog } from '../schema/index';
import type { Database, Executor } from './client';

export interface AuditEntry {
  tenantId: string;
  actorType: 'user' | 'api_key' | 'webhook' | 'system';
  actorId: string | null;
  action: string;
  resourceType: string;
  resourceId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  details?: Record<string, unknown>;
  /** An entry more than one writer may record (a run's start row, decision 0037): recorded once. */
  key?: string | null;
}

/** Call inside the transaction of the mutation it records. An entry whose `key` is already recorded is left as it is. */
export async function writeAudit(tx: Executor, entry: AuditEntry): Promise<void> {
  await tx.insert(auditLog).values({ ...entry, details: entry.details ?? {} }).onConflictDoNothing();
}

/** Inserts that may run at once per writer; rows arriving meanwhile wait and go out together in the next. */
const AUDIT_INSERTS_IN_FLIGHT = 4;
/**
 * The same for rows nobody waits for (a run's start row, written after its answer, decision
 * 0037): one insert at a time, so a steady stream of starts shares statements and commits
 * instead of paying one each (bench/README.md, "The API's own CPU per request").
 */
const BACKGROUND_INSERTS_IN_FLIGHT = 1;
/**
 * How long a background row may wait for others before its insert goes out. A start row is
 * already crash-safe in its run's memo, so waiting costs nothing but this much delay before it
 * can be read; at tens of starts a second it turns one insert and commit per row or two into one
 * per several (decision 0041; bench/README.md, "Fewer start-row inserts"). Awaited rows never wait.
 */
const BACKGROUND_AUDIT_LINGER_MS = 50;
/** Rows per statement at most (a burst larger than this is split, and goes out without lingering). */
const AUDIT_ROWS_PER_INSERT = 500;

/**
 * The grouped insert, one prepared statement for any number of rows (a column per array): Postgres
 * parses and plans it once per connection, and nothing builds SQL per insert. What `writeAudit`
 * inserts, column for column; an entry whose `key` is recorded is left as it is.
 */
const INSERT_AUDIT_ROWS = {
  name: 'keelson_audit_rows',
  text: `insert into audit_log (tenant_id, actor_type, actor_id, action, resource_type, resource_id, ip, user_agent, details, key)
    select * from unnest($1::uuid[], $2::actor_type[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::uuid[])
    on conflict do nothing`,
} as const;

interface QueuedAudit {
  entry: AuditEntry;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Audit rows that do not belong to a caller's transaction, written with group commit: up to
 * {@link AUDIT_INSERTS_IN_FLIGHT} inserts run at once, and rows that arrive while they do are
 * inserted together, in one statement and one commit, as soon as one of them returns. Each
 * `write` resolves only once its own row has committed (or rejects), exactly as `writeAudit`
 * outside a transaction would, so what a caller may say after awaiting it is unchanged; what
 * changes is that a burst of N concurrent rows costs a few round trips, commits and pool
 * connections instead of N. If a grouped insert fails, its rows are retried one by one, so one
 * row's failure is that row's caller's alone. A writer with a linger also holds its first queued
 * row back that long for others to join it (rows nobody waits for); `drain` sends them at once.
 */
export class AuditWriter {
  private queue: QueuedAudit[] = [];
  private inFlight = 0;
  private linger: ReturnType<typeof setTimeout> | undefined;
  /** The queued rows have waited their linger out: the next free insert takes them at once. */
  private waited = false;
  private drained: Array<() => void> = [];
  /** Rows committed, and statements used for them (for the benchmark and tests). */
  readonly stats = { rows: 0, inserts: 0 };

  /** `lingerMs`: how long the first of the queued rows may wait for more before an insert goes out (0: never). */
  constructor(
    private readonly db: Database,
    private readonly maxInFlight = AUDIT_INSERTS_IN_FLIGHT,
    private readonly lingerMs = 0,
  ) {}

  write(entry: AuditEntry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.pump();
    });
  }

  /**
   * Sends every queued row now, without lingering, and resolves once nothing is queued or in
   * flight (a process calls it before it closes its pool, so a graceful stop leaves no row to the
   * sweep). Rows written meanwhile are waited for too.
   */
  drain(): Promise<void> {
    if (!this.queue.length && !this.inFlight) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.drained.push(resolve);
      this.pump();
    });
  }

  private pump() {
    // Rows go out without lingering once a drain waits for them or their linger ran out.
    const now = this.drained.length > 0 || this.waited;
    if (this.lingerMs && !now && this.queue.length && this.queue.length < AUDIT_ROWS_PER_INSERT) {
      // The first queued row waits for company, at most lingerMs; the timer sends whatever is queued
      // then, or as soon as an insert in flight returns.
      this.linger ??= setTimeout(() => {
        this.linger = undefined;
        this.waited = true;
        this.pump();
      }, this.lingerMs);
      return;
    }
    clearTimeout(this.linger);
    this.linger = undefined;
    if (this.inFlight < this.maxInFlight) this.waited = false;
    while (this.inFlight < this.maxInFlight && this.queue.length) {
      const batch = this.queue.splice(0, AUDIT_ROWS_PER_INSERT);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length) this.pump();
        else if (!this.inFlight) for (const resolve of this.drained.splice(0)) resolve();
      });
    }
  }

  private async flush(batch: QueuedAudit[]) {
    try {
      await this.insert(batch.map((q) => q.entry));
      for (const q of batch) q.resolve();
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(rowError(batch[0]!.entry, err));
      await Promise.all(
        batch.map((q) =>
          this.insert([q.entry]).then(
            () => q.resolve(),
            (e: unknown) => q.reject(rowError(q.entry, e)),
          ),
        ),
      );
    }
  }

  private async insert(entries: AuditEntry[]) {
    const column = <T>(pick: (e: AuditEntry) => T) => entries.map(pick);
    await this.db.$client.query({
      ...INSERT_AUDIT_ROWS,
      values: [
        column((e) => e.tenantId),
        column((e) => e.actorType),
        column((e) => e.actorId),
        column((e) => e.action),
        column((e) => e.resourceType),
        column((e) => e.resourceId ?? null),
        column((e) => e.ip ?? null),
        column((e) => e.userAgent ?? null),
        column((e) => JSON.stringify(e.details ?? {})),
        column((e) => e.key ?? null),
      ],
    });
    this.stats.inserts++;
    this.stats.rows += entries.length;
  }
}

/** A row's own failure, naming the row; Postgres's error is its cause. */
function rowError(entry: AuditEntry, cause: unknown): Error {
  const row = [entry.action, entry.resourceType, entry.resourceId].filter(Boolean).join(' ');
  return new Error(`audit row ${row} of organization ${entry.tenantId} not written: ${(cause as Error).message}`, { cause });
}

const writers = { awaited: new WeakMap<Database, AuditWriter>(), background: new WeakMap<Database, AuditWriter>() };

/**
 * The grouped audit writer of a database handle (one per process, pool and kind), made on first
 * use: `awaited` for rows a caller answers after, `background` for rows written after the answer.
 */
export function auditWriter(db: Database, kind: keyof typeof writers = 'awaited'): AuditWriter {
  let writer = writers[kind].get(db);
  if (!writer) {
    writer = kind === 'awaited' ? new AuditWriter(db) : new AuditWriter(db, BACKGROUND_INSERTS_IN_FLIGHT, BACKGROUND_AUDIT_LINGER_MS);
    writers[kind].set(db, writer);
  }
  return writer;
}

/** Sends and awaits every queued row of this database handle's writers (before its pool is closed). */
export async function drainAuditWriters(db: Database): Promise<void> {
  await Promise.all(Object.values(writers).map((kind) => kind.get(db)?.drain()));
}
