/**
 * Reading the Proxmox forms' numbers. Pure and free of Svelte and SvelteKit imports, so Node tests
 * run it. (Placing the API's issues at fields is `forms/placed-issues.ts`.)
 */
/** A whole number as typed, or NaN with the reason recorded in `errors[field]`. */
export function readWholeNumber(errors: Record<string, string>, field: string, value: string, required: boolean): number | undefined {
  const t = value.trim();
  if (!t) {
    if (required) errors[field] = 'required';
    return required ? NaN : undefined;
  }
  const n = Number(t);
  if (!Number.isInteger(n)) errors[field] = 'must be a whole number';
  return n;
}
