import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure } from '@temporalio/workflow';

/** The failure that says what went wrong: an activity's or child's own error, not the wrapper. */
export function rootCause(err: unknown): unknown {
  return (err instanceof ActivityFailure || err instanceof ChildWorkflowFailure) && err.cause ? err.cause : err;
}

export function describeFailure(err: unknown): string {
  const cause = rootCause(err);
  return cause instanceof Error ? cause.message : String(cause);
}

/** The typed failure's type (`ImageNotFound`, `HealthCheckFailed`…), or `fallback`. */
export function failureType(err: unknown, fallback: string): string {
  const cause = rootCause(err);
  return cause instanceof ApplicationFailure && cause.type ? cause.type : fallback;
}
