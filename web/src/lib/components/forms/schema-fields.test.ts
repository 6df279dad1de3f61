import { describe, expect, it } from 'vitest';
import { z } from 'zod';
// The API's own catalog: the forms must keep up with whatever operations it offers.
import { operationCatalog } from '../../../../../api/src/services/operations';
import { ApiError } from '../../api/request';
import { fieldsFromSchema, initialValues, inputFromValues, labelFor, routeIssues, unplacedError, valuesFromInput, type SchemaField } from './schema-fields';

const toSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
const catalog = new Map<string, unknown>(operationCatalog().map((op) => [op.name, op.inputSchema]));
const fieldsOf = (operation: string) => {
  const fields = fieldsFromSchema(catalog.get(operation));
  if (!fields) throw new Error(`${operation} has no fields`);
  return fields;
};
const byName = (fields: SchemaField[]) => Object.fromEntries(fields.map((f) => [f.name, f]));

describe('fieldsFromSchema on the API catalog', () => {
  it('gives every operation a form; only the guests\' nested network settings fall back to JSON', () => {
    expect(catalog.size).toBeGreaterThan(0);
    const json: string[] = [];
    for (const [name, schema] of catalog) {
      const fields = fieldsFromSchema(schema);
      expect(fields, name).not.toBeNull();
      json.push(...fields!.filter((f) => f.kind === 'json').map((f) => `${name}.${f.name}`));
    }
    // A nested object has no control of its own in the generic form (the Proxmox pages have a
    // dedicated one); any other JSON field here is a form that got worse.
    expect(json.sort()).toEqual(['lxc.provision.ipConfig', 'vm.provision.ipConfig']);
  });

  it('reads container.create: required ids, a record of env, an integer with its default and range', () => {
    const f = byName(fieldsOf('container.create'));
    expect(Object.keys(f)).toEqual(['name', 'nodeId', 'blueprintId', 'env', 'logCaptureSeconds']);
    expect(f.name).toMatchObject({ kind: 'text', required: true, maxLength: 63, label: 'Name' });
    expect(f.nodeId).toMatchObject({ kind: 'text', format: 'uuid', required: true, label: 'Node ID' });
    expect(f.nodeId!.hint).toBe('A UUID.');
    expect(f.env).toMatchObject({ kind: 'record', required: false, keyPattern: '^[A-Za-z_][A-Za-z0-9_]*$', default: {} });
    expect(f.logCaptureSeconds).toMatchObject({ kind: 'number', integer: true, min: 0, max: 120, default: 5, required: false });
    expect(f.logCaptureSeconds!.hint).toBe('A whole number, 0–120.');
  });

  it('reads system.noop: a list of strings, an integer, a boolean and a text, all optional', () => {
    const f = byName(fieldsOf('system.noop'));
    expect(f.echo).toMatchObject({ kind: 'list', required: false, maxLength: 10_000 });
    expect(f.echo!.hint).toBe('Up to 1000 items.');
    expect(f.sleepSeconds).toMatchObject({ kind: 'number', integer: true, min: 0, max: 86_400 });
    expect(f.waitForApproval).toMatchObject({ kind: 'boolean', required: false });
    expect(f.failWith).toMatchObject({ kind: 'text', maxLength: 500, required: false });
  });
});

describe('fieldsFromSchema on other shapes', () => {
  const schema = toSchema(
    z.object({
      protocol: z.enum(['tcp', 'udp']).default('tcp'),
      level: z.union([z.literal(1), z.literal(2)]).optional(),
      ratio: z.number().gt(0).lt(1),
      note: z.string().nullable(),
      when: z.iso.datetime().optional(),
      ports: z.array(z.object({ host: z.number() })),
      tags: z.array(z.enum(['a', 'b'])),
      nested: z.object({ a: z.string() }),
      anything: z.unknown(),
    }).describe('x'),
  );
  const f = byName(fieldsFromSchema(schema)!);

  it('makes a select of an enum, with the default kept', () => {
    expect(f.protocol).toMatchObject({ kind: 'select', default: 'tcp', required: false });
    expect(f.protocol!.options).toEqual([
      { value: '"tcp"', label: 'tcp' },
      { value: '"udp"', label: 'udp' },
    ]);
  });

  it('reads exclusive bounds and nullable strings', () => {
    expect(f.ratio).toMatchObject({ kind: 'number', integer: false, required: true });
    expect(f.ratio!.hint).toBe('Above 0, below 1.');
    expect(f.note).toMatchObject({ kind: 'text', nullable: true, required: true });
    expect(f.when).toMatchObject({ kind: 'text', format: 'date-time' });
  });

  it('falls back to JSON for arrays of objects, arrays of enums, nested objects and unknowns', () => {
    expect([f.ports, f.tags, f.nested, f.anything].map((x) => x?.kind)).toEqual(['json', 'json', 'json', 'json']);
    expect(f.level?.kind).toBe('json');
  });

  it('gives null for schemas that are not objects with properties', () => {
    expect(fieldsFromSchema(toSchema(z.record(z.string(), z.string())))).toBeNull();
    expect(fieldsFromSchema(toSchema(z.string()))).toBeNull();
    expect(fieldsFromSchema(undefined)).toBeNull();
    expect(fieldsFromSchema({ type: 'object', properties: {} })).toEqual([]);
  });

  it('labels camelCase and snake_case names', () => {
    expect(labelFor('sleepSeconds')).toBe('Sleep seconds');
    expect(labelFor('blueprintId')).toBe('Blueprint ID');
    expect(labelFor('memory_limit_mb')).toBe('Memory limit mb');
    expect(labelFor('cpuLimit')).toBe('CPU limit');
  });
});

describe('initialValues and inputFromValues', () => {
  it('starts from the defaults and sends them back as they were', () => {
    const fields = fieldsOf('container.create');
    const values = initialValues(fields);
    expect(values).toEqual({ name: '', nodeId: '', blueprintId: '', env: [], logCaptureSeconds: '5' });
    values.name = 'web-1';
    values.nodeId = '5f0c6a8e-3f1b-4a7e-9d55-2d6f0e9b1c11';
    values.blueprintId = '0b8f6c0e-8a7d-4e4f-9c4b-3a1e2d5f6a77';
    values.env = [
      { key: 'A', value: '1' },
      { key: '', value: '' },
    ];
    expect(inputFromValues(fields, values)).toEqual({
      input: { name: 'web-1', nodeId: values.nodeId, blueprintId: values.blueprintId, env: { A: '1' }, logCaptureSeconds: 5 },
      errors: {},
    });
  });

  it('marks empty required fields and leaves empty optional ones out', () => {
    const fields = fieldsOf('container.create');
    const values = { ...initialValues(fields), logCaptureSeconds: '' };
    expect(inputFromValues(fields, values)).toEqual({ input: { env: {} }, errors: { name: 'required', nodeId: 'required', blueprintId: 'required' } });
  });

  it('reads numbers, lists and booleans, and only sends false where it means something', () => {
    const fields = fieldsOf('system.noop');
    expect(inputFromValues(fields, initialValues(fields))).toEqual({ input: {}, errors: {} });
    const values = { echo: ['hello', '', 'world'], sleepSeconds: ' 3 ', waitForApproval: true, failWith: '' };
    expect(inputFromValues(fields, values)).toEqual({ input: { echo: ['hello', 'world'], sleepSeconds: 3, waitForApproval: true }, errors: {} });
    expect(inputFromValues(fields, { ...values, sleepSeconds: '1.5' }).errors).toEqual({ sleepSeconds: 'must be a whole number' });
    expect(inputFromValues(fields, { ...values, sleepSeconds: 'soon' }).errors).toEqual({ sleepSeconds: 'must be a number' });

    const withDefault = fieldsFromSchema(toSchema(z.object({ dryRun: z.boolean().default(true), force: z.boolean() })))!;
    expect(inputFromValues(withDefault, initialValues(withDefault)).input).toEqual({ dryRun: true, force: false });
    expect(inputFromValues(withDefault, { dryRun: false, force: false }).input).toEqual({ dryRun: false, force: false });
  });

  it('refuses record rows without a name or with a name twice', () => {
    const fields = fieldsOf('container.create');
    const base = initialValues(fields);
    expect(inputFromValues(fields, { ...base, env: [{ key: ' ', value: 'x' }] }).errors.env).toBe('a name is missing for the value "x"');
    expect(
      inputFromValues(fields, {
        ...base,
        env: [
          { key: 'A', value: '1' },
          { key: 'A ', value: '2' },
        ],
      }).errors.env,
    ).toBe('A appears twice');
  });

  it('parses selects and JSON fields, and sends null for an empty required nullable field', () => {
    const fields = fieldsFromSchema(
      toSchema(z.object({ protocol: z.enum(['tcp', 'udp']), spec: z.object({ a: z.number() }).optional(), note: z.string().nullable() })),
    )!;
    expect(inputFromValues(fields, { protocol: '"udp"', spec: '{"a": 1}', note: '' })).toEqual({ input: { protocol: 'udp', spec: { a: 1 }, note: null }, errors: {} });
    expect(inputFromValues(fields, { protocol: '', spec: '{a: 1}', note: 'n' }).errors).toMatchObject({ protocol: 'required', spec: expect.stringMatching(/^not valid JSON/) });
  });
});

describe('valuesFromInput', () => {
  it('round-trips what the form sends', () => {
    const fields = fieldsOf('system.noop');
    const input = { echo: ['a', 'b'], sleepSeconds: 2, waitForApproval: true, failWith: 'boom' };
    const values = valuesFromInput(fields, input);
    expect(values).toEqual({ echo: ['a', 'b'], sleepSeconds: '2', waitForApproval: true, failWith: 'boom' });
    expect(inputFromValues(fields, values!).input).toEqual(input);
  });

  it('gives null for keys no field holds and values a field cannot show', () => {
    const fields = fieldsOf('system.noop');
    expect(valuesFromInput(fields, { other: 1 })).toBeNull();
    expect(valuesFromInput(fields, { echo: [1, 2] })).toBeNull();
    expect(valuesFromInput(fields, { sleepSeconds: '2' })).toBeNull();
    expect(valuesFromInput(fields, [])).toBeNull();
    expect(valuesFromInput(fields, {})).toEqual({ echo: [], sleepSeconds: '', waitForApproval: false, failWith: '' });
  });
});

describe('routeIssues', () => {
  it('puts each issue of POST /api/runs at its field and keeps the rest', () => {
    const fields = fieldsOf('container.create');
    const routed = routeIssues(fields, [
      { path: 'input.name', message: 'use lowercase letters' },
      { path: 'input.env.1A', message: 'Invalid key in record' },
      { path: 'input.env.B', message: 'too long' },
      { path: 'input', message: 'whole input' },
      { path: 'operation', message: 'unknown operation' },
      { path: 'input.unknownField', message: 'what' },
    ]);
    expect(routed.byField).toEqual({ name: 'use lowercase letters', env: '1A: Invalid key in record; B: too long' });
    expect(routed.rest.map((i) => i.path)).toEqual(['input', 'operation', 'input.unknownField']);
  });

  it('names list items from one, and works without a prefix', () => {
    const fields = fieldsOf('system.noop');
    expect(routeIssues(fields, [{ path: 'input.echo.2', message: 'too long' }]).byField).toEqual({ echo: 'item 3: too long' });
    expect(routeIssues(fields, [{ path: 'sleepSeconds', message: 'too big' }], '').byField).toEqual({ sleepSeconds: 'too big' });
  });
});

describe('unplacedError', () => {
  const error = new ApiError(400, 'validation_failed', 'input.name: bad; operation: unknown', 'req-1', [
    { path: 'input.name', message: 'bad' },
    { path: 'operation', message: 'unknown' },
  ]);

  it('narrows the notice to the issues no field shows', () => {
    const narrowed = unplacedError(error, [error.issues[1]!]);
    expect(narrowed).toBeInstanceOf(ApiError);
    expect(narrowed).toMatchObject({ status: 400, code: 'validation_failed', message: 'operation: unknown', requestId: 'req-1', issues: [error.issues[1]] });
  });

  it('gives the error itself when no issue is placed, and nothing when all are', () => {
    expect(unplacedError(error, error.issues)).toBe(error);
    expect(unplacedError(error, [])).toBeNull();
    const plain = new ApiError(409, 'conflict', 'already exists');
    expect(unplacedError(plain, [])).toBe(plain);
    const other = new Error('network');
    expect(unplacedError(other, [])).toBe(other);
  });
});
