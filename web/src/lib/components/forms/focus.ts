import { tick } from 'svelte';

/** Once the page shows a failed submit's errors, the keyboard goes to the first field marked invalid. */
export async function focusFirstInvalid(form: HTMLElement | undefined): Promise<void> {
  await tick();
  form?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
}
