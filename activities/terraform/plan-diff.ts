import { redact } from './tofu';

/** What a plan does to one resource, in the words a reviewer reads. */
export type ChangeAction = 'create' | 'update' | 'replace' | 'delete' | 'read';

export interface AttributeChange {
  /** `cpu[0].cores` */
  path: string;
  /** JSON text of the value, `(sensitive value)`, or undefined when absent. */
  before?: string;
  after?: string;
  /** Known only after apply. */
  unknown?: boolean;
  sensitive?: boolean;
  /** This attribute's change is why the resource is replaced. */
  forcesReplacement?: boolean;
}

export interface ResourceChange {
  address: string;
  type: string;
  action: ChangeAction;
  attributes: AttributeChange[];
}

export interface OutputChange {
  name: string;
  action: ChangeAction;
  before?: string;
  after?: string;
  unknown?: boolean;
  sensitive?: boolean;
}

export interface PlanDiff {
  resources: ResourceChange[];
  outputs: OutputChange[];
  summary: { create: number; update: number; replace: number; delete: number };
  /** True when applying the plan would change nothing (resources or outputs). */
  empty: boolean;
}

export const SENSITIVE = '(sensitive value)';

/** The parts of `tofu show -json <plan>` this reads (see OpenTofu's JSON output format). */
interface ShowJson {
  resource_changes?: Array<{
    address: string;
    type: string;
    mode?: string;
    change: {
      actions: string[];
      before: unknown;
      after: unknown;
      after_unknown?: unknown;
      before_sensitive?: unknown;
      after_sensitive?: unknown;
      replace_paths?: Array<Array<string | number>>;
    };
  }>;
  output_changes?: Record<string, { actions: string[]; before: unknown; after: unknown; after_unknown?: unknown; before_sensitive?: unknown; after_sensitive?: unknown }>;
}

/** `["delete","create"]` and `["create","delete"]` are replacements; `["no-op"]` is nothing. */
export function actionOf(actions: string[]): ChangeAction | undefined {
  if (actions.includes('delete') && actions.includes('create')) return 'replace';
  const [only] = actions;
  if (only === 'create' || only === 'update' || only === 'delete' || only === 'read') return only;
  return undefined;
}

type Leaf = { value: unknown; sensitive: boolean; unknown: boolean };

/** Flattens a value to `path → leaf`, carrying the sensitive/unknown markers down. */
function flatten(value: unknown, sensitive: unknown, unknown: unknown, prefix: string, out: Map<string, Leaf>): void {
  if (sensitive === true || unknown === true) {
    out.set(prefix, { value, sensitive: sensitive === true, unknown: unknown === true });
    return;
  }
  if (Array.isArray(value)) {
    if (value.length === 0 && prefix) out.set(prefix, { value, sensitive: false, unknown: false });
    value.forEach((item, index) => flatten(item, at(sensitive, index), at(unknown, index), `${prefix}[${index}]`, out));
    return;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out.set(prefix, { value, sensitive: false, unknown: false });
    for (const [key, item] of entries) flatten(item, at(sensitive, key), at(unknown, key), prefix ? `${prefix}.${key}` : key, out);
    return;
  }
  if (prefix) out.set(prefix, { value, sensitive: false, unknown: false });
}

function at(marker: unknown, key: string | number): unknown {
  if (marker === true) return true;
  if (marker && typeof marker === 'object') return (marker as Record<string | number, unknown>)[key];
  return undefined;
}

/** Unknown markers cover attributes that are absent from `after`; add them. */
function addUnknownPaths(unknown: unknown, prefix: string, out: Map<string, Leaf>): void {
  if (unknown === true) {
    if (!out.has(prefix)) out.set(prefix, { value: undefined, sensitive: false, unknown: true });
    return;
  }
  if (Array.isArray(unknown)) unknown.forEach((item, index) => addUnknownPaths(item, `${prefix}[${index}]`, out));
  else if (unknown && typeof unknown === 'object') {
    for (const [key, item] of Object.entries(unknown as Record<string, unknown>)) addUnknownPaths(item, prefix ? `${prefix}.${key}` : key, out);
  }
}

function show(leaf: Leaf | undefined, secrets: readonly string[]): string | undefined {
  if (!leaf || leaf.unknown) return undefined;
  if (leaf.sensitive) return SENSITIVE;
  if (leaf.value === undefined || leaf.value === null) return undefined;
  return redact(JSON.stringify(leaf.value), secrets);
}

const pathText = (path: Array<string | number>) =>
  path.map((part, index) => (typeof part === 'number' ? `[${part}]` : index === 0 ? part : `.${part}`)).join('');

/**
 * The reviewer's view of a plan: per resource its action and the attributes that change, with
 * sensitive values masked (OpenTofu's markers, and any of the stack's secret values wherever
 * they occur). Never carries the plan's variables.
 */
export function planDiff(json: ShowJson, secrets: readonly string[] = []): PlanDiff {
  const resources: ResourceChange[] = [];
  for (const rc of json.resource_changes ?? []) {
    const action = actionOf(rc.change.actions);
    if (!action || rc.mode === 'data') continue;
    const before = new Map<string, Leaf>();
    const after = new Map<string, Leaf>();
    flatten(rc.change.before, rc.change.before_sensitive, undefined, '', before);
    flatten(rc.change.after, rc.change.after_sensitive, rc.change.after_unknown, '', after);
    addUnknownPaths(rc.change.after_unknown, '', after);
    const replacePaths = new Set((rc.change.replace_paths ?? []).map(pathText));
    const attributes: AttributeChange[] = [];
    for (const path of [...new Set([...before.keys(), ...after.keys()])].sort()) {
      const b = before.get(path);
      const a = after.get(path);
      const beforeText = show(b, secrets);
      const afterText = show(a, secrets);
      const unknown = a?.unknown ?? false;
      const sensitive = (b?.sensitive ?? false) || (a?.sensitive ?? false);
      // A sensitive value that stays sensitive and equal is not shown as a change.
      const same = !unknown && JSON.stringify(b?.value) === JSON.stringify(a?.value) && (b?.sensitive ?? false) === (a?.sensitive ?? false);
      if (same && action === 'update') continue;
      if (action === 'update' && !unknown && beforeText === undefined && afterText === undefined) continue;
      const change: AttributeChange = { path };
      if (beforeText !== undefined) change.before = beforeText;
      if (afterText !== undefined) change.after = afterText;
      if (unknown) change.unknown = true;
      if (sensitive) change.sensitive = true;
      if ([...replacePaths].some((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`))) change.forcesReplacement = true;
      attributes.push(change);
    }
    resources.push({ address: rc.address, type: rc.type, action, attributes });
  }
  const outputs: OutputChange[] = [];
  for (const [name, oc] of Object.entries(json.output_changes ?? {})) {
    const action = actionOf(oc.actions);
    if (!action) continue;
    const sensitive = oc.before_sensitive === true || oc.after_sensitive === true;
    const change: OutputChange = { name, action };
    if (sensitive) change.sensitive = true;
    if (oc.after_unknown === true) change.unknown = true;
    const before = sensitive ? SENSITIVE : oc.before === null || oc.before === undefined ? undefined : redact(JSON.stringify(oc.before), secrets);
    const after = oc.after_unknown === true ? undefined : sensitive ? SENSITIVE : oc.after === null || oc.after === undefined ? undefined : redact(JSON.stringify(oc.after), secrets);
    if (before !== undefined) change.before = before;
    if (after !== undefined) change.after = after;
    outputs.push(change);
  }
  const summary = { create: 0, update: 0, replace: 0, delete: 0 };
  for (const resource of resources) if (resource.action !== 'read') summary[resource.action] += 1;
  return { resources, outputs, summary, empty: resources.every((r) => r.action === 'read') && outputs.length === 0 };
}
