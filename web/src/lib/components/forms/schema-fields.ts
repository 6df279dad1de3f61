/**
 * From an operation's input JSON Schema (what zod's `toJSONSchema` gives, `io: 'input'`) to the
 * fields of a start form, and from the form's values back to the input object.
 *
 * What gets its own control: strings (text, or a select with `enum`), numbers and integers,
 * booleans, arrays of strings (a list editor) and objects that are records of strings (key/value
 * rows). Anything else — nested objects, arrays of objects, unions — is a JSON field, so no input
 * is out of reach. The API validates again; here values are only parsed (a number is a number,
 * JSON is JSON, required is filled), and the API's 400 issues (`input.<prop>…`) are routed back to
 * the field they name.
 *
 * Pure and free of Svelte and SvelteKit imports, so Node tests run it.
 */
import { ApiError, type FieldIssue } from '../../api/request';

/** The parts of JSON Schema that start forms read. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema | JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

export type FieldKind = 'text' | 'number' | 'boolean' | 'select' | 'list' | 'record' | 'json';

export interface SelectOption {
  /** The option's JSON (`"tcp"`, `3`, `null`), so any enum value survives the round trip. */
  value: string;
  label: string;
}

export interface SchemaField {
  /** The property name: the key in the input, and `input.<name>` in the API's issues. */
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  /** `null` is an accepted value: an empty optional field is left out, an empty required one sends null. */
  nullable: boolean;
  /** The schema's description and its constraints in words (`whole number, 0–600`). */
  hint?: string;
  default?: unknown;
  /** `text`: `uuid`, `email`, … */
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  /** `number`. */
  integer?: boolean;
  min?: number;
  max?: number;
  /** `select`. */
  options?: SelectOption[];
  /** `record`: what each key must match. */
  keyPattern?: string;
  /** The property's schema as given. */
  schema: JsonSchema;
}

export interface KeyValue {
  key: string;
  value: string;
}

/**
 * What each kind edits: the raw text of text, number, select (the option's JSON) and json fields;
 * a boolean; the items of a list; the rows of a record.
 */
export type FieldValue = string | boolean | string[] | KeyValue[];
export type FormValues = Record<string, FieldValue>;

/**
 * The fields of an input schema, in the schema's order; `null` when the schema is not an object
 * with properties (the form then edits the whole input as JSON).
 */
export function fieldsFromSchema(schema: unknown): SchemaField[] | null {
  if (!isSchema(schema) || !hasType(schema, 'object') || !isSchema(schema.properties)) return null;
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  return Object.entries(schema.properties).map(([name, prop]) => fieldFor(name, isSchema(prop) ? prop : {}, required.has(name)));
}

function fieldFor(name: string, raw: JsonSchema, required: boolean): SchemaField {
  const { schema, nullable } = unwrapNullable(raw);
  const base = { name, label: raw.title ?? schema.title ?? labelFor(name), required, nullable, default: raw.default ?? schema.default, schema: raw };
  const description = raw.description ?? schema.description;

  if (Array.isArray(schema.enum) && schema.enum.length > 0) {
    return {
      ...base,
      kind: 'select',
      options: schema.enum.map((v) => ({ value: JSON.stringify(v), label: v === null ? '(none)' : String(v) })),
      hint: hintOf(description, []),
    };
  }
  if (hasType(schema, 'string')) {
    const format = schema.format;
    return {
      ...base,
      kind: 'text',
      format,
      pattern: schema.pattern,
      minLength: schema.minLength,
      maxLength: schema.maxLength,
      hint: hintOf(description, [
        format === 'uuid' ? 'a UUID' : format ? `format: ${format}` : null,
        lengthHint(schema.minLength, schema.maxLength, 'characters'),
        // A format says it better than its regular expression.
        !format && schema.pattern ? `must match ${schema.pattern}` : null,
      ]),
    };
  }
  if (hasType(schema, 'integer') || hasType(schema, 'number')) {
    const integer = hasType(schema, 'integer');
    return {
      ...base,
      kind: 'number',
      integer,
      min: schema.minimum,
      max: schema.maximum,
      hint: hintOf(description, [integer ? 'a whole number' : null, rangeHint(schema)]),
    };
  }
  if (hasType(schema, 'boolean')) return { ...base, kind: 'boolean', hint: hintOf(description, []) };
  if (hasType(schema, 'array') && isSchema(schema.items) && isPlainString(schema.items)) {
    return {
      ...base,
      kind: 'list',
      maxLength: schema.items.maxLength,
      hint: hintOf(description, [lengthHint(schema.minItems, schema.maxItems, 'items')]),
    };
  }
  if (
    hasType(schema, 'object') &&
    !schema.properties &&
    isSchema(schema.additionalProperties) &&
    isPlainString(schema.additionalProperties)
  ) {
    const keyPattern = isSchema(schema.propertyNames) ? schema.propertyNames.pattern : undefined;
    return { ...base, kind: 'record', keyPattern, hint: hintOf(description, [keyPattern ? `names must match ${keyPattern}` : null]) };
  }
  return { ...base, kind: 'json', hint: hintOf(description, ['JSON']) };
}

/** `sleepSeconds` → `Sleep seconds`, `nodeId` → `Node ID`. */
export function labelFor(name: string): string {
  const words = name
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .trim()
    .split(/\s+/)
    .map((w) => (/^(id|url|uuid|ip|cpu)$/i.test(w) ? w.toUpperCase() : w.toLowerCase()));
  const text = words.join(' ');
  return text ? text[0]!.toUpperCase() + text.slice(1) : name;
}

/** The values a new form starts with: each field's default, else empty. */
export function initialValues(fields: SchemaField[]): FormValues {
  const values: FormValues = {};
  for (const f of fields) values[f.name] = valueFor(f, f.default);
  return values;
}

/** One field's editing value for an input value (`undefined`: empty). */
function valueFor(field: SchemaField, v: unknown): FieldValue {
  switch (field.kind) {
    case 'boolean':
      return v === true;
    case 'list':
      return Array.isArray(v) ? v.map(String) : [];
    case 'record':
      return v && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v).map(([key, value]) => ({ key, value: String(value) })) : [];
    case 'select':
      return v === undefined ? '' : JSON.stringify(v);
    case 'json':
      return v === undefined ? '' : JSON.stringify(v, null, 2);
    default:
      return v === undefined || v === null ? '' : String(v);
  }
}

export interface FormResult {
  input: Record<string, unknown>;
  /** Messages by field name, for what could not be read (not a number, not JSON, required). */
  errors: Record<string, string>;
}

/**
 * The input object for the API. Empty optional fields are left out (so the API applies its
 * defaults); an empty required field is an error, unless it may be null.
 */
export function inputFromValues(fields: SchemaField[], values: FormValues): FormResult {
  const input: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const read = readField(field, values[field.name]);
    if ('error' in read) errors[field.name] = read.error;
    else if ('value' in read) input[field.name] = read.value;
    else if (field.required) {
      if (field.nullable) input[field.name] = null;
      else errors[field.name] = 'required';
    }
  }
  return { input, errors };
}

type Read = { value: unknown } | { error: string } | { empty: true };

function readField(field: SchemaField, raw: FieldValue | undefined): Read {
  const empty = { empty: true } as const;
  switch (field.kind) {
    case 'boolean':
      // Unticked is "false" only where false means something: required, or against a default.
      return raw === true ? { value: true } : field.required || field.default !== undefined ? { value: false } : empty;
    case 'list': {
      const items = (Array.isArray(raw) ? (raw as unknown[]) : []).filter((s): s is string => typeof s === 'string' && s !== '');
      return items.length || field.default !== undefined ? { value: items } : empty;
    }
    case 'record': {
      const rows = (Array.isArray(raw) ? (raw as unknown[]) : []).filter(isKeyValue).filter((r) => r.key.trim() || r.value);
      const out: Record<string, string> = {};
      for (const { key, value } of rows) {
        const k = key.trim();
        if (!k) return { error: `a name is missing for the value "${truncate(value)}"` };
        if (k in out) return { error: `${k} appears twice` };
        out[k] = value;
      }
      return rows.length || field.default !== undefined ? { value: out } : empty;
    }
    case 'number': {
      const text = typeof raw === 'string' ? raw.trim() : '';
      if (!text) return empty;
      const n = Number(text);
      if (!Number.isFinite(n)) return { error: 'must be a number' };
      if (field.integer && !Number.isInteger(n)) return { error: 'must be a whole number' };
      return { value: n };
    }
    case 'select':
    case 'json': {
      const text = typeof raw === 'string' ? raw.trim() : '';
      if (!text) return empty;
      try {
        return { value: JSON.parse(text) };
      } catch (err) {
        return { error: `not valid JSON: ${(err as Error).message}` };
      }
    }
    default: {
      const text = typeof raw === 'string' ? raw : '';
      return text === '' ? empty : { value: text };
    }
  }
}

/**
 * The form values for an input object (for going from the JSON editor back to the form);
 * `null` when the object has a key no field holds or a value its field cannot show.
 */
export function valuesFromInput(fields: SchemaField[], input: unknown): FormValues | null {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return null;
  const obj = input as Record<string, unknown>;
  const byName = new Map(fields.map((f) => [f.name, f]));
  if (Object.keys(obj).some((k) => !byName.has(k))) return null;
  const values: FormValues = {};
  for (const f of fields) {
    const v = obj[f.name];
    if (v !== undefined && !fits(f, v)) return null;
    values[f.name] = valueFor(f, v);
  }
  return values;
}

function fits(field: SchemaField, v: unknown): boolean {
  switch (field.kind) {
    case 'text':
      return typeof v === 'string' || (v === null && field.nullable);
    case 'number':
      return typeof v === 'number' || (v === null && field.nullable);
    case 'boolean':
      return typeof v === 'boolean';
    case 'select':
      return !!field.options?.some((o) => o.value === JSON.stringify(v));
    case 'list':
      return Array.isArray(v) && v.every((s) => typeof s === 'string');
    case 'record':
      return !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((s) => typeof s === 'string');
    default:
      return true;
  }
}

export interface RoutedIssues {
  /** One message per field name (several issues of a field joined). */
  byField: Record<string, string>;
  /** Issues that name no field: for a notice above the form. */
  rest: FieldIssue[];
}

/**
 * Routes the API's issues to fields: `input.echo` to `echo`, `input.echo.2` to `echo` as
 * "item 3: …", `input.env.FOO` to `env` as "FOO: …". `prefix` is where the input sits in the
 * request body (`input` for `POST /api/runs`; empty when the input is the body).
 */
export function routeIssues(fields: SchemaField[], issues: readonly FieldIssue[], prefix = 'input'): RoutedIssues {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const messages: Record<string, string[]> = {};
  const rest: FieldIssue[] = [];
  const lead = prefix ? `${prefix}.` : '';
  for (const issue of issues) {
    if (!issue.path.startsWith(lead)) {
      rest.push(issue);
      continue;
    }
    const path = issue.path.slice(lead.length);
    const field = fieldOfPath(byName, path);
    if (!field) {
      rest.push(issue);
      continue;
    }
    const sub = path.slice(field.name.length + 1);
    const where = !sub ? '' : field.kind === 'list' && /^\d+(\.|$)/.test(sub) ? `item ${Number(sub.split('.')[0]) + 1}` : sub;
    (messages[field.name] ??= []).push(where ? `${where}: ${issue.message}` : issue.message);
  }
  const byField: Record<string, string> = {};
  for (const [name, list] of Object.entries(messages)) byField[name] = list.join('; ');
  return { byField, rest };
}

/**
 * The error for a notice once the issues that fields show are taken out: the same error when none
 * is placed, null when all are, else the error narrowed to the issues left.
 */
export function unplacedError(error: unknown, rest: readonly FieldIssue[]): unknown {
  if (!(error instanceof ApiError) || !error.issues.length || rest.length === error.issues.length) return error;
  if (!rest.length) return null;
  const message = rest.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  return new ApiError(error.status, error.code, message, error.requestId, [...rest]);
}

/** The field a dotted path starts with; property names may themselves contain dots. */
function fieldOfPath(byName: Map<string, SchemaField>, path: string): SchemaField | undefined {
  const exact = byName.get(path);
  if (exact) return exact;
  let best: SchemaField | undefined;
  for (const [name, f] of byName) if (path.startsWith(`${name}.`) && (!best || name.length > best.name.length)) best = f;
  return best;
}

// ---------------------------------------------------------------------------------------------

function isSchema(v: unknown): v is JsonSchema {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function hasType(s: JsonSchema, type: string): boolean {
  return Array.isArray(s.type) ? s.type.includes(type) : s.type === type;
}

const isNullSchema = (s: JsonSchema) => s.type === 'null';

/** `anyOf: [X, {type: 'null'}]` and `type: ['string', 'null']` are X, nullable. */
function unwrapNullable(s: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const union = s.anyOf ?? s.oneOf;
  if (Array.isArray(union) && union.length === 2 && union.some(isNullSchema)) {
    const other = union.find((u) => !isNullSchema(u));
    if (isSchema(other)) return { schema: { ...other, default: s.default ?? other.default, description: s.description ?? other.description }, nullable: true };
  }
  if (Array.isArray(s.type) && s.type.includes('null')) {
    const rest = s.type.filter((t) => t !== 'null');
    if (rest.length === 1) return { schema: { ...s, type: rest[0] }, nullable: true };
  }
  return { schema: s, nullable: false };
}

/** A string without an enum (an enum's items would want checkboxes, which JSON covers). */
const isPlainString = (s: JsonSchema) => hasType(s, 'string') && !Array.isArray(s.type) && !s.enum;

const isKeyValue = (v: unknown): v is KeyValue =>
  !!v && typeof v === 'object' && typeof (v as KeyValue).key === 'string' && typeof (v as KeyValue).value === 'string';

function rangeHint(s: JsonSchema): string | null {
  if (s.minimum !== undefined && s.maximum !== undefined) return `${s.minimum}–${s.maximum}`;
  const lo = s.minimum !== undefined ? `at least ${s.minimum}` : s.exclusiveMinimum !== undefined ? `above ${s.exclusiveMinimum}` : null;
  const hi = s.maximum !== undefined ? `at most ${s.maximum}` : s.exclusiveMaximum !== undefined ? `below ${s.exclusiveMaximum}` : null;
  return [lo, hi].filter(Boolean).join(', ') || null;
}

function lengthHint(min: number | undefined, max: number | undefined, unit: string): string | null {
  if (min !== undefined && min > 0 && max !== undefined) return `${min}–${max} ${unit}`;
  if (max !== undefined) return `up to ${max} ${unit}`;
  if (min !== undefined && min > 0) return `at least ${min} ${unit}`;
  return null;
}

function hintOf(description: string | undefined, parts: Array<string | null>): string | undefined {
  const constraints = parts.filter((p): p is string => !!p).join(', ');
  const text = [description, constraints && `${constraints[0]!.toUpperCase()}${constraints.slice(1)}.`].filter(Boolean).join(' ');
  return text || undefined;
}

const truncate = (s: string) => (s.length > 20 ? `${s.slice(0, 19)}…` : s);
