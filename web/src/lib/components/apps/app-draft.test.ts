import { describe, expect, it } from 'vitest';
// The API's own body schemas: what the form sends must be what the API reads.
import { AppBody, AppPatch } from '../../../../../api/src/routes/apps/schema';
import type { App } from '../../api/types';
import { appChanges, draftFromApp, emptyAppDraft, envTouched, placeAppIssues, readAppDraft, sealedEnv, type AppDraft } from './app-draft';

/** The API's issues for a body, in the shape its 400 carries them. */
function apiIssues(schema: typeof AppBody | typeof AppPatch, body: unknown) {
  const r = schema.safeParse(body);
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

const NODE = '4b1c3f1e-8a55-4a43-9a1e-0c5a3d7e2f10';

const filled = (over: Partial<AppDraft> = {}): AppDraft => ({
  ...emptyAppDraft(),
  name: 'shop',
  repoUrl: 'https://github.com/acme/shop.git',
  containerPort: '8080',
  healthPath: '/health',
  nodeId: NODE,
  hostname: 'shop.example.com',
  ...over,
});

const stored: App = {
  id: '0d6b2f3a-6c0e-4a51-b8a5-7b0f1f6a9c21',
  name: 'shop',
  repoUrl: 'https://github.com/acme/shop.git',
  branch: 'main',
  dockerfilePath: 'Dockerfile',
  buildContext: '.',
  containerPort: 8080,
  healthCheck: { path: '/health', expectedStatus: 200, timeoutSeconds: 60, passes: 3 },
  nodeId: NODE,
  hostname: 'shop.example.com',
  requireApproval: false,
  approvalTimeoutSeconds: 3600,
  watchSeconds: 30,
  drainSeconds: 10,
  envKeys: ['API_TOKEN', 'GREETING'],
  currentReleaseId: null,
  currentRelease: null,
  latestRelease: null,
  deployerWorkflowId: 'app/0d6b2f3a-6c0e-4a51-b8a5-7b0f1f6a9c21/deployer',
  createdAt: '2025-11-12T10:00:00.000Z',
  updatedAt: '2025-11-12T10:00:00.000Z',
};

describe('readAppDraft', () => {
  it('reads a filled form into a body the API takes as it is, its defaults included', () => {
    const read = readAppDraft(filled({ env: [{ key: 'GREETING', value: 'hello' }, { key: '', value: '' }] }));
    expect(read.errors).toEqual({});
    expect(apiIssues(AppBody, read.body)).toEqual([]);
    // Nothing left for the API to fill in: the form shows every default it would apply.
    expect(AppBody.parse(read.body)).toEqual(read.body);
    expect(read.body).toMatchObject({ containerPort: 8080, healthCheck: { path: '/health', expectedStatus: 200, timeoutSeconds: 60, passes: 3 }, env: { GREETING: 'hello' } });
  });

  it('names what it cannot read at its field: blanks, numbers that are not whole, a missing node', () => {
    const read = readAppDraft(filled({ name: ' ', containerPort: '80.5', healthPasses: '', nodeId: '' }));
    expect(read.errors).toEqual({ name: 'required', containerPort: 'must be a whole number', healthPasses: 'required', nodeId: 'choose a node' });
  });

  it('asks for stored variables to be typed again, refuses nameless and twice-named ones, skips empty rows', () => {
    const read = readAppDraft(
      filled({
        env: [
          { key: 'API_TOKEN', value: '', sealed: true },
          { key: '', value: 'orphan' },
          { key: 'A', value: '1' },
          { key: 'A', value: '2' },
          { key: '', value: '' },
        ],
      }),
    );
    expect(read.errors).toEqual({ 'env.API_TOKEN': 'type the value again to keep it, or remove the variable', 'env.1': 'give this value a name', 'env.A': 'A appears twice' });
    expect(read.body.env).toEqual({ A: '1' });
  });

  it('leaves the variables alone when told to keep the stored ones', () => {
    const read = readAppDraft(draftFromApp(stored), { keepStoredEnv: true });
    expect(read.errors).toEqual({});
    expect(read.body.env).toEqual({});
  });

  it('lowercases the hostname, which the API only takes in lowercase', () => {
    expect(readAppDraft(filled({ hostname: 'Shop.Example.COM' })).body.hostname).toBe('shop.example.com');
  });
});

describe('editing: envTouched and appChanges', () => {
  it('sees the stored variables as untouched until a row changes', () => {
    const keys = stored.envKeys;
    expect(envTouched(sealedEnv(keys), keys)).toBe(false);
    // An empty row added and left empty changes nothing.
    expect(envTouched([...sealedEnv(keys), { key: '', value: '' }], keys)).toBe(false);
    expect(envTouched([{ key: 'API_TOKEN', value: 'new', sealed: true }, { key: 'GREETING', value: '', sealed: true }], keys)).toBe(true);
    expect(envTouched(sealedEnv(keys).slice(1), keys)).toBe(true);
    expect(envTouched([...sealedEnv(keys), { key: 'NEW', value: 'x' }], keys)).toBe(true);
    // No variables stored: an empty row is untouched, a filled one is a change.
    expect(envTouched(sealedEnv([]), [])).toBe(false);
    expect(envTouched([{ key: 'X', value: '' }], [])).toBe(true);
  });

  it('sends nothing for an unchanged form, and only what changed otherwise, as a patch the API takes', () => {
    const draft = draftFromApp(stored);
    expect(appChanges(stored, readAppDraft(draft, { keepStoredEnv: true }).body, false)).toEqual({});

    const changed = readAppDraft({ ...draft, hostname: 'new.example.com', healthPasses: '5', watchSeconds: '2' }, { keepStoredEnv: true }).body;
    const patch = appChanges(stored, changed, false);
    expect(patch).toEqual({ hostname: 'new.example.com', healthCheck: { path: '/health', expectedStatus: 200, timeoutSeconds: 60, passes: 5 }, watchSeconds: 2 });
    expect(apiIssues(AppPatch, patch)).toEqual([]);
  });

  it('sends env only when its rows changed, replacing every variable', () => {
    const draft = draftFromApp(stored);
    draft.env = [{ key: 'GREETING', value: 'hi', sealed: true }];
    const read = readAppDraft(draft);
    expect(read.errors).toEqual({});
    expect(appChanges(stored, read.body, envTouched(draft.env, stored.envKeys))).toEqual({ env: { GREETING: 'hi' } });
    // Every row removed: an empty environment, sent as such.
    expect(appChanges(stored, readAppDraft({ ...draft, env: [] }).body, true)).toEqual({ env: {} });
  });
});

describe('placeAppIssues', () => {
  it('puts each of the API’s issues at its field, variables at their row', () => {
    const draft = filled({ hostname: 'Bad_Host', healthPath: 'health', dockerfilePath: '../Dockerfile', env: [{ key: '1BAD', value: 'x' }] });
    // The body as sent (without the lowercasing, to see the API's own message).
    const body = { ...readAppDraft(draft).body, hostname: 'Bad_Host' };
    const issues = apiIssues(AppBody, body);
    const placed = placeAppIssues(issues, draft);
    expect(Object.keys(placed.byField).sort()).toEqual(['dockerfilePath', 'env.1BAD', 'healthPath', 'hostname']);
    expect(placed.byField.hostname).toMatch(/hostname/);
    expect(placed.byField.healthPath).toMatch(/starting with \//);
    expect(placed.rest).toEqual([]);
  });

  it('keeps what has no field for the notice, and names a variable the form does not show', () => {
    const placed = placeAppIssues(
      [
        { path: '', message: 'nothing to change' },
        { path: 'env.GONE', message: 'too long' },
        { path: 'nodeId', message: 'no such node in this organization' },
      ],
      filled(),
    );
    expect(placed.byField).toEqual({ env: 'GONE: too long', nodeId: 'no such node in this organization' });
    expect(placed.rest).toEqual([{ path: '', message: 'nothing to change' }]);
  });
});
