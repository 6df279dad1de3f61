import { TemporalFailure } from '@temporalio/common';
import { proxySinks, workflowInfo, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { SearchKey } from '@keelson/common/search-attributes';

/**
 * Counts every run that ends, by its operation (KeelsonOperation, else the workflow type), through
 * a sink: the worker's process increments `keelson_runs_{completed,failed}_total`. Sinks are not
 * called during replay, so a run counts once on the worker that ran its last task.
 */
export interface KeelsonSinks extends Sinks {
  runMetrics: { closed(operation: string, outcome: 'completed' | 'failed'): void };
}

const { runMetrics } = proxySinks<KeelsonSinks>();

function operation(): string {
  const info = workflowInfo();
  try {
    return info.typedSearchAttributes.get(SearchKey.operation) ?? info.workflowType;
  } catch {
    return info.workflowType;
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async execute(input, next) {
        try {
          const result = await next(input);
          runMetrics.closed(operation(), 'completed');
          return result;
        } catch (err) {
          // Continue-as-new is not an end; other errors fail the task, not the run, and are retried.
          if (err instanceof TemporalFailure) runMetrics.closed(operation(), 'failed');
          throw err;
        }
      },
    },
  ],
});
