/**
 * The API's 400 issues placed at a form's fields. Pure and free of Svelte and SvelteKit imports,
 * so Node tests run it.
 */
import type { FieldIssue } from '../../api/request';

export interface PlacedIssues {
  /** Messages by the form's fields. */
  byField: Record<string, string>;
  /** Issues the form has no place for (shown in one notice). */
  rest: FieldIssue[];
}

/**
 * `place` turns an issue into `[field, message]`, or undefined when the form has no field for
 * it; several messages for one field are joined.
 */
export function placeIssues(issues: readonly FieldIssue[], place: (issue: FieldIssue) => [string, string] | undefined): PlacedIssues {
  const byField: Record<string, string[]> = {};
  const rest: FieldIssue[] = [];
  for (const issue of issues) {
    const placed = place(issue);
    if (placed) (byField[placed[0]] ??= []).push(placed[1]);
    else rest.push(issue);
  }
  return { byField: Object.fromEntries(Object.entries(byField).map(([f, m]) => [f, m.join('; ')])), rest };
}
