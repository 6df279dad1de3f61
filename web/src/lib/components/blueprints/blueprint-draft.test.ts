import { describe, expect, it } from 'vitest';
// The API's own body schema: what the form sends must be what the API reads.
import { BlueprintBody } from '../../../../../api/src/routes/blueprints/schema';
import type { Blueprint } from '../../api/types';
import { draftFromBlueprint, emptyDraft, formatCommand, parseCommand, placeIssues, readDraft, type BlueprintDraft } from './blueprint-draft';

/** The API's issues for a body, in the shape its 400 carries them. */
function apiIssues(body: unknown) {
  const r = BlueprintBody.safeParse(body);
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

const filled = (over: Partial<BlueprintDraft> = {}): BlueprintDraft => ({
  ...emptyDraft(),
  name: 'web',
  image: 'nginx:1.27',
  ...over,
});

describe('parseCommand and formatCommand', () => {
  it('splits on spaces and keeps quoted spaces', () => {
    expect(parseCommand('  nginx -g "daemon off;"  ')).toEqual({ args: ['nginx', '-g', 'daemon off;'] });
    expect(parseCommand(`sh -c 'echo "hi there"' ""`)).toEqual({ args: ['sh', '-c', 'echo "hi there"', ''] });
    expect(parseCommand('echo "a \\"b\\" \\\\ c"')).toEqual({ args: ['echo', 'a "b" \\ c'] });
    expect(parseCommand('')).toEqual({ args: [] });
    expect(parseCommand('echo "open')).toEqual({ error: 'a double quote is not closed' });
  });

  it('reads a JSON array, and only one of strings', () => {
    expect(parseCommand('["nginx", "-g", "daemon off;"]')).toEqual({ args: ['nginx', '-g', 'daemon off;'] });
    expect(parseCommand('["a", 1]')).toMatchObject({ error: expect.stringContaining('array of strings') });
    expect(parseCommand('[oops')).toMatchObject({ error: expect.stringMatching(/^not a valid JSON array/) });
  });

  it('shows plain words joined and anything else as JSON, which parses back to the same', () => {
    expect(formatCommand(['redis-server', '--port', '6380'])).toBe('redis-server --port 6380');
    for (const args of [['nginx', '-g', 'daemon off;'], ['echo', 'it\'s "quoted"'], ['[x]'], ['a\\b'], []]) {
      expect(parseCommand(formatCommand(args))).toEqual({ args });
    }
    expect(formatCommand(['nginx', '-g', 'daemon off;'])).toBe('["nginx","-g","daemon off;"]');
  });
});

describe('readDraft', () => {
  it('turns a filled form into a body the API accepts, leaving blank rows out', () => {
    const read = readDraft(
      filled({
        command: 'nginx -g "daemon off;"',
        ports: [
          { container: '', host: '', protocol: 'tcp' },
          { container: '80', host: ' 8080 ', protocol: 'tcp' },
          { container: '53', host: '5353', protocol: 'udp' },
        ],
        volumes: [{ source: 'data', target: '/data', readOnly: true }],
        env: [
          { key: ' MODE ', value: 'prod' },
          { key: '', value: '' },
        ],
        cpuLimit: '0.5',
        memoryLimitMb: '256',
      }),
    );
    expect(read.errors).toEqual({});
    expect(read.body).toEqual({
      name: 'web',
      description: '',
      image: 'nginx:1.27',
      command: ['nginx', '-g', 'daemon off;'],
      ports: [
        { container: 80, host: 8080, protocol: 'tcp' },
        { container: 53, host: 5353, protocol: 'udp' },
      ],
      volumes: [{ source: 'data', target: '/data', readOnly: true }],
      env: { MODE: 'prod' },
      cpuLimit: 0.5,
      memoryLimitMb: 256,
    });
    expect(read.rows.ports).toEqual([1, 2]);
    expect(apiIssues(read.body)).toEqual([]);
  });

  it('sends an empty new form as nulls and empty lists', () => {
    const read = readDraft(filled());
    expect(read.body).toMatchObject({ command: [], ports: [], volumes: [], env: {}, cpuLimit: null, memoryLimitMb: null });
    expect(apiIssues(read.body)).toEqual([]);
  });

  it('names what it cannot read, by the form’s paths', () => {
    const read = readDraft({
      ...emptyDraft(),
      command: "echo 'x",
      ports: [
        { container: '80', host: '', protocol: 'tcp' },
        { container: 'http', host: '80.5', protocol: 'tcp' },
      ],
      env: [
        { key: '', value: 'orphan' },
        { key: 'A', value: '1' },
        { key: 'A', value: '2' },
      ],
      cpuLimit: 'half',
      memoryLimitMb: '1.5',
    });
    expect(read.errors).toEqual({
      name: 'required',
      image: 'required',
      command: 'a single quote is not closed',
      'ports.0.host': 'required',
      'ports.1.container': 'must be a whole number',
      'ports.1.host': 'must be a whole number',
      'env.0': 'give this value a name',
      'env.A': 'A appears twice',
      cpuLimit: 'must be a number',
      memoryLimitMb: 'must be a whole number',
    });
  });
});

describe('editing a stored blueprint', () => {
  const stored: Blueprint = {
    id: '6c1f0e4a-2b7d-4c1e-9a55-0d3e2f1a4b5c',
    name: 'api',
    description: 'the API',
    image: 'ghcr.io/acme/api:2',
    command: ['node', 'server.js', '--name', 'two words'],
    ports: [{ container: 3000, host: 3000, protocol: 'tcp' }],
    volumes: [],
    envKeys: ['DATABASE_URL', 'TOKEN'],
    cpuLimit: null,
    memoryLimitMb: 512,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
  };

  it('shows stored variables by name and asks for each value again', () => {
    const draft = draftFromBlueprint(stored);
    expect(draft.env).toEqual([
      { key: 'DATABASE_URL', value: '', sealed: true },
      { key: 'TOKEN', value: '', sealed: true },
    ]);
    expect(draft.command).toBe('["node","server.js","--name","two words"]');
    expect(draft.memoryLimitMb).toBe('512');
    expect(readDraft(draft).errors).toEqual({
      'env.DATABASE_URL': 'type the value again to keep it, or remove the variable',
      'env.TOKEN': 'type the value again to keep it, or remove the variable',
    });
  });

  it('sends exactly the variables left in the form', () => {
    const draft = draftFromBlueprint(stored);
    draft.env = [{ ...draft.env[0]!, value: 'postgres://db' }];
    const read = readDraft(draft);
    expect(read.errors).toEqual({});
    expect(read.body.env).toEqual({ DATABASE_URL: 'postgres://db' });
    expect(read.body.command).toEqual(stored.command);
  });
});

describe('placeIssues', () => {
  it('puts the API’s real issues at the form’s rows and fields', () => {
    const draft = filled({
      name: 'Web',
      command: 'echo hi',
      ports: [
        { container: '', host: '', protocol: 'tcp' },
        { container: '80', host: '70000', protocol: 'tcp' },
        { container: '81', host: '8080', protocol: 'tcp' },
        { container: '82', host: '8080', protocol: 'tcp' },
      ],
      volumes: [{ source: '/etc', target: 'relative', readOnly: false }],
      env: [{ key: 'GOOD', value: 'x'.repeat(40_000) }],
      memoryLimitMb: '2',
    });
    const read = readDraft(draft);
    expect(read.errors).toEqual({});
    const placed = placeIssues(apiIssues(read.body), read, draft);
    expect(placed.rest).toEqual([]);
    expect(Object.keys(placed.byPath).sort()).toEqual(
      ['env.GOOD', 'memoryLimitMb', 'name', 'ports', 'ports.1.host', 'volumes.0.source', 'volumes.0.target'].sort(),
    );
    expect(placed.byPath.memoryLimitMb).toBe('Docker needs at least 6 MB');
    expect(placed.byPath.ports).toBe('a host port appears twice');
    // The API's first port is the form's second row: the blank first row was left out.
    expect(placed.byPath['ports.1.host']).toMatch(/65535/);
  });

  it('names command arguments and unknown variables, and keeps what has no place', () => {
    const draft = filled({ env: [{ key: 'A', value: '1' }] });
    const read = readDraft(draft);
    const placed = placeIssues(
      [
        { path: 'command.1', message: 'too long' },
        { path: 'env.1BAD', message: 'Invalid key in record' },
        { path: 'env', message: 'at most 200 environment variables' },
        { path: 'ports.7.host', message: 'no such row' },
        { path: '', message: 'whole body' },
      ],
      read,
      draft,
    );
    expect(placed.byPath).toEqual({ command: 'argument 2: too long', env: '1BAD: Invalid key in record; at most 200 environment variables' });
    expect(placed.rest.map((i) => i.path)).toEqual(['ports.7.host', '']);
  });
});
