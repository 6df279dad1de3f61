import { ApiError, type FieldIssue } from '$lib/api/request';

/**
 * An API error split for a form: the issues of `paths` the form shows at their inputs, and an
 * error for the rest (null when every issue found its input).
 */
export function placeIssues(err: unknown, paths: readonly string[]): { byField: Record<string, string>; rest: unknown } {
  if (!(err instanceof ApiError) || !err.issues.length) return { byField: {}, rest: err };
  const byField: Record<string, string> = {};
  const left: FieldIssue[] = [];
  for (const issue of err.issues) {
    if (paths.includes(issue.path) && !byField[issue.path]) byField[issue.path] = issue.message;
    else left.push(issue);
  }
  if (!left.length) return { byField, rest: null };
  const message = left.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  return { byField, rest: new ApiError(err.status, err.code, message, err.requestId, left) };
}
