import { paramError } from '../http/errors';
import type { RawParams, RawValue } from '../http/request';

/**
 * A small model of PVE's JSONSchema parameter checks (pve-common's PVE::JSONSchema), enough to
 * reproduce its 400 replies: one reason per parameter, worded as the real server words them.
 */

/** Checks a string value; returns the reason it is invalid (without the `invalid format - ` prefix). */
export type FormatCheck = (value: string, param: string) => string | undefined;

interface Common {
  optional?: boolean;
  description?: string;
}
export type ParamSpec =
  | (Common & { type: 'integer'; minimum?: number; maximum?: number; format?: FormatCheck })
  | (Common & { type: 'number'; minimum?: number; maximum?: number })
  | (Common & { type: 'boolean' })
  | (Common & {
      type: 'string';
      enum?: readonly string[];
      pattern?: RegExp;
      minLength?: number;
      maxLength?: number;
      format?: FormatCheck;
      /** A `-list` format: repeated keys are accepted and joined with commas. */
      list?: boolean;
    });

export type ParamSchema = Record<string, ParamSpec>;

/** Validated values: integers and booleans (0/1) as numbers, everything else as strings. */
export type Params = Record<string, string | number>;

/** `net0`…`net31` style families: PVE's `net[n]` properties. */
export function indexed(prefix: string, count: number, spec: ParamSpec): ParamSchema {
  const schema: ParamSchema = {};
  for (let i = 0; i < count; i++) schema[`${prefix}${i}`] = spec;
  return schema;
}

/** PVE's `pve-vmid` standard option: the format is checked before the range, as PVE does. */
export const vmidSpec = {
  type: 'integer',
  format: (value) => (/^[1-9][0-9]{2,8}$/.test(value) ? undefined : 'value does not look like a valid VM ID'),
  minimum: 100,
  maximum: 999_999_999,
} as const satisfies ParamSpec;
export const nodeSpec = {
  type: 'string',
  format: (value) => (/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(value) ? undefined : 'value does not look like a valid node name'),
} as const satisfies ParamSpec;
export const optionalBoolean = { type: 'boolean', optional: true } as const satisfies ParamSpec;

/**
 * A format failure as PVE words it: the validator's `die` message keeps its trailing newline
 * (`invalid format - value does not look like a valid VM ID\n`), unlike the range and length
 * checks, which add their message without one.
 */
const formatError = (reason: string) => `invalid format - ${reason}\n`;

const MESSAGES = {
  missing: 'property is missing and it is not optional',
  unknown: 'property is not defined in schema and the schema does not allow additional properties',
};

function checkOne(spec: ParamSpec, name: string, raw: RawValue): { value?: string | number; error?: string } {
  if (Array.isArray(raw)) {
    if (spec.type === 'string' && spec.list) raw = raw.map(String).join(',');
    else return { error: `type check ('${spec.type}') failed - got ARRAY` };
  }
  switch (spec.type) {
    case 'boolean': {
      // JSON bodies may send real booleans (Perl sees 1/0); in forms only 1 and 0 are accepted.
      if (raw === true || raw === 1 || raw === '1') return { value: 1 };
      if (raw === false || raw === 0 || raw === '0') return { value: 0 };
      return { error: `type check ('boolean') failed - got '${String(raw)}'` };
    }
    case 'integer':
    case 'number': {
      const text = String(raw).trim();
      const valid = spec.type === 'integer' ? /^[+-]?\d+$/.test(text) : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text);
      if (typeof raw === 'boolean' || !valid) return { error: `type check ('${spec.type}') failed - got '${String(raw)}'` };
      if (spec.type === 'integer' && spec.format) {
        const reason = spec.format(text, name);
        if (reason) return { error: formatError(reason) };
      }
      const value = Number(text);
      if (spec.maximum !== undefined && value > spec.maximum) return { error: `value must have a maximum value of ${spec.maximum}` };
      if (spec.minimum !== undefined && value < spec.minimum) return { error: `value must have a minimum value of ${spec.minimum}` };
      return { value };
    }
    case 'string': {
      // PVE's order (PVE::JSONSchema::check_prop): format, pattern, maxLength, minLength, enum.
      const value = String(raw);
      if (spec.format) {
        const reason = spec.format(value, name);
        if (reason) return { error: formatError(reason) };
      }
      if (spec.pattern && !spec.pattern.test(value)) return { error: 'value does not match the regex pattern' };
      if (spec.maxLength !== undefined && value.length > spec.maxLength) {
        return { error: `value may only be ${spec.maxLength} characters long` };
      }
      if (spec.minLength !== undefined && value.length < spec.minLength) {
        return { error: `value must be at least ${spec.minLength} characters long` };
      }
      if (spec.enum && !spec.enum.includes(value)) {
        return { error: `value '${value}' does not have a value in the enumeration '${spec.enum.join(', ')}'` };
      }
      return { value };
    }
  }
}

/**
 * Validates raw request parameters (path parameters included, as PVE validates them together)
 * against a schema; throws the 400 with every offending parameter at once.
 */
export function validateParams(schema: ParamSchema, raw: RawParams): Params {
  const errors: Record<string, string> = {};
  const params: Params = {};
  for (const [name, value] of Object.entries(raw)) {
    const spec = schema[name];
    if (!spec) {
      errors[name] = MESSAGES.unknown;
      continue;
    }
    const checked = checkOne(spec, name, value);
    if (checked.error !== undefined) errors[name] = checked.error;
    else params[name] = checked.value!;
  }
  for (const [name, spec] of Object.entries(schema)) {
    if (!spec.optional && raw[name] === undefined && errors[name] === undefined) errors[name] = MESSAGES.missing;
  }
  if (Object.keys(errors).length > 0) throw paramError(errors);
  return params;
}
