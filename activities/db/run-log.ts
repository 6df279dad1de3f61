import { RUN_LOG_CHANNEL } from '@keelson/common/constants';
import { isDatabaseUnavailable, type Database } from '@keelson/db';
import { runLogs } from '@keelson/db/schema';
import { Context, ApplicationFailure } from '@temporalio/activity';
import { sql } from 'drizzle-orm';

export type LogStream = 'stdout' | 'stderr' | 'system';

/** Appends output to the run executing the current activity and notifies stream listeners. */
export interface RunLogWriter {
  write(stream: LogStream, data: string): Promise<void>;
}

/**
 * How long a write waits for a database that went away (a restart, a failover) before it gives up
 * and fails the activity; the output it holds would otherwise be lost with the attempt.
 */
const UNAVAILABLE_PATIENCE_MS = 60_000;

export function createRunLog(db: Database, opts: { patienceMs?: number } = {}) {
  const patienceMs = opts.patienceMs ?? UNAVAILABLE_PATIENCE_MS;
  /** A writer bound to the current activity; chunks keep their order within the run. */
  function forCurrentActivity(tenantId: string): RunLogWriter {
    const info = Context.current().info;
    const execution = info.workflowExecution;
    if (!execution) throw new Error('run output can only be written from a workflow activity');
    return {
      async write(stream, data) {
        if (!data) return;
        const insert = () => db.transaction(async (tx) => {
          await tx.insert(runLogs).values({
            tenantId,
            workflowId: execution.workflowId,
            runId: execution.runId,
            activityId: info.activityId,
            attempt: info.attempt,
            stream,
            data,
          });
          await tx.execute(sql`select pg_notify(${RUN_LOG_CHANNEL}, ${execution.workflowId})`);
        });
        // A transaction that could not reach the server stored nothing, so it is sent again. (One
        // cut during its COMMIT may have been stored: then the chunk shows twice, never lost.)
        const giveUpAt = Date.now() + patienceMs;
        for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
          try {
            return await insert();
          } catch (err) {
            if (!isDatabaseUnavailable(err) || Date.now() + delay > giveUpAt) throw err;
            await new Promise((r) => setTimeout(r, delay));
          }
        }
      },
    };
  }
  return { forCurrentActivity };
}

export type RunLog = ReturnType<typeof createRunLog>;

export function createRunLogActivities({ runLog }: { runLog: RunLog }) {
  return {
    /** Writes each line to the run's output; optionally fails afterwards (tests, benchmarks). */
    async echo({ tenantId, lines, failWith }: { tenantId: string; lines: string[]; failWith?: string }): Promise<void> {
      const writer = runLog.forCurrentActivity(tenantId);
      for (const line of lines) await writer.write('stdout', `${line}\n`);
      if (failWith) throw ApplicationFailure.nonRetryable(failWith, 'EchoFailed');
    },
  };
}

export type RunLogActivities = ReturnType<typeof createRunLogActivities>;
