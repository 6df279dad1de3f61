/**
 * The app form's state and its translations: a draft from a stored app, the request body from a
 * draft (with what could not be read), the changes an edit sends, and the API's 400 issues
 * placed back at the form's fields (`healthCheck.path`, `env.TOKEN`).
 *
 * Pure and free of Svelte and SvelteKit imports, so Node tests run it.
 */
import type { FieldIssue } from '../../api/request';
import type { App, AppInput } from '../../api/types';
import { placeIssues, type PlacedIssues } from '../forms/placed-issues';

export interface EnvRow {
  key: string;
  value: string;
  /** Stored on the server, value unknown here: it must be typed again to be kept. */
  sealed?: boolean;
}

/** Numbers are kept as typed, so a half-typed value stays on screen until it is read. */
export interface AppDraft {
  name: string;
  repoUrl: string;
  branch: string;
  dockerfilePath: string;
  buildContext: string;
  containerPort: string;
  healthPath: string;
  healthStatus: string;
  healthTimeoutSeconds: string;
  healthPasses: string;
  nodeId: string;
  hostname: string;
  requireApproval: boolean;
  approvalTimeoutSeconds: string;
  watchSeconds: string;
  drainSeconds: string;
  env: EnvRow[];
}

/** The form's field for each of the body's paths; the API's issues use the body's. */
export const FIELD_OF_PATH: Record<string, keyof AppDraft> = {
  name: 'name',
  repoUrl: 'repoUrl',
  branch: 'branch',
  dockerfilePath: 'dockerfilePath',
  buildContext: 'buildContext',
  containerPort: 'containerPort',
  'healthCheck.path': 'healthPath',
  'healthCheck.expectedStatus': 'healthStatus',
  'healthCheck.timeoutSeconds': 'healthTimeoutSeconds',
  'healthCheck.passes': 'healthPasses',
  nodeId: 'nodeId',
  hostname: 'hostname',
  requireApproval: 'requireApproval',
  approvalTimeoutSeconds: 'approvalTimeoutSeconds',
  watchSeconds: 'watchSeconds',
  drainSeconds: 'drainSeconds',
};

export const emptyEnv = (): EnvRow => ({ key: '', value: '' });

/** A new app's form, with the API's defaults filled in. */
export function emptyAppDraft(): AppDraft {
  return {
    name: '',
    repoUrl: '',
    branch: 'main',
    dockerfilePath: 'Dockerfile',
    buildContext: '.',
    containerPort: '',
    healthPath: '/',
    healthStatus: '200',
    healthTimeoutSeconds: '60',
    healthPasses: '3',
    nodeId: '',
    hostname: '',
    requireApproval: false,
    approvalTimeoutSeconds: '3600',
    watchSeconds: '30',
    drainSeconds: '10',
    env: [emptyEnv()],
  };
}

/** The variables of a stored app: names whose values stay on the server. */
export const sealedEnv = (envKeys: readonly string[]): EnvRow[] => (envKeys.length ? envKeys.map((key) => ({ key, value: '', sealed: true })) : [emptyEnv()]);

export function draftFromApp(a: App): AppDraft {
  return {
    name: a.name,
    repoUrl: a.repoUrl,
    branch: a.branch,
    dockerfilePath: a.dockerfilePath,
    buildContext: a.buildContext,
    containerPort: String(a.containerPort),
    healthPath: a.healthCheck.path,
    healthStatus: String(a.healthCheck.expectedStatus),
    healthTimeoutSeconds: String(a.healthCheck.timeoutSeconds),
    healthPasses: String(a.healthCheck.passes),
    nodeId: a.nodeId,
    hostname: a.hostname,
    requireApproval: a.requireApproval,
    approvalTimeoutSeconds: String(a.approvalTimeoutSeconds),
    watchSeconds: String(a.watchSeconds),
    drainSeconds: String(a.drainSeconds),
    env: sealedEnv(a.envKeys),
  };
}

/**
 * Whether the variables rows differ from the stored ones as the form first showed them (each
 * stored name, no value typed, nothing added). Untouched, an edit leaves the environment alone.
 */
export function envTouched(rows: readonly EnvRow[], envKeys: readonly string[]): boolean {
  const filled = rows.filter((r) => r.key.trim() || r.value);
  if (filled.length !== envKeys.length) return true;
  return filled.some((r, i) => !r.sealed || r.key.trim() !== envKeys[i] || r.value !== '');
}

/** The env row's path: `env.<NAME>` like the API's issues, or `env.<row>` while it has no name. */
export const envRowPath = (row: EnvRow, index: number) => (row.key.trim() ? `env.${row.key.trim()}` : `env.${index}`);

export interface AppDraftRead {
  body: AppInput;
  /** Messages by the form's fields (`healthPath`, `env.TOKEN`), for what could not be read. */
  errors: Record<string, string>;
}

/**
 * The request body for a draft. Only reads what the form holds (numbers are whole numbers,
 * variables have names and, if stored, were typed again); the API checks the rest and says so
 * per field. With `keepStoredEnv` (an edit that left the variables alone) the rows are not read
 * and `env` is empty: `appChanges` then leaves it out.
 */
export function readAppDraft(d: AppDraft, opts: { keepStoredEnv?: boolean } = {}): AppDraftRead {
  const errors: Record<string, string> = {};
  const text = (field: keyof AppDraft, value: string, required = true) => {
    const v = value.trim();
    if (required && !v) errors[field] = 'required';
    return v;
  };
  const int = (field: keyof AppDraft, value: string): number => {
    const t = value.trim();
    if (!t) {
      errors[field] = 'required';
      return NaN;
    }
    const n = Number(t);
    if (!Number.isInteger(n)) errors[field] = 'must be a whole number';
    return n;
  };

  const env: Record<string, string> = {};
  if (!opts.keepStoredEnv) {
    d.env.forEach((row, i) => {
      const key = row.key.trim();
      if (!key && !row.value) return;
      const path = envRowPath(row, i);
      if (!key) errors[path] = 'give this value a name';
      else if (key in env) errors[path] = `${key} appears twice`;
      else if (row.sealed && row.value === '') errors[path] = 'type the value again to keep it, or remove the variable';
      else env[key] = row.value;
    });
  }

  if (!d.nodeId) errors.nodeId = 'choose a node';

  const body: AppInput = {
    name: text('name', d.name),
    repoUrl: text('repoUrl', d.repoUrl),
    branch: text('branch', d.branch),
    dockerfilePath: text('dockerfilePath', d.dockerfilePath),
    buildContext: text('buildContext', d.buildContext),
    containerPort: int('containerPort', d.containerPort),
    healthCheck: {
      path: text('healthPath', d.healthPath),
      expectedStatus: int('healthStatus', d.healthStatus),
      timeoutSeconds: int('healthTimeoutSeconds', d.healthTimeoutSeconds),
      passes: int('healthPasses', d.healthPasses),
    },
    nodeId: d.nodeId,
    hostname: text('hostname', d.hostname).toLowerCase(),
    requireApproval: d.requireApproval,
    approvalTimeoutSeconds: int('approvalTimeoutSeconds', d.approvalTimeoutSeconds),
    watchSeconds: int('watchSeconds', d.watchSeconds),
    drainSeconds: int('drainSeconds', d.drainSeconds),
    env,
  };
  return { body, errors };
}

/**
 * What an edit sends: only the settings that differ from the stored app (so the audit log names
 * what changed), and `env` only when its rows were touched, since leaving it out keeps the
 * stored values the form cannot show.
 */
export function appChanges(app: App, body: AppInput, envChanged: boolean): Partial<AppInput> {
  const changes: Partial<AppInput> = {};
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  for (const key of Object.keys(body) as Array<keyof AppInput>) {
    if (key === 'env') continue;
    const stored = key === 'healthCheck' ? pickHealth(app.healthCheck) : app[key];
    if (!same(body[key], stored)) (changes as Record<string, unknown>)[key] = body[key];
  }
  if (envChanged) changes.env = body.env;
  return changes;
}

const pickHealth = (h: App['healthCheck']) => ({ path: h.path, expectedStatus: h.expectedStatus, timeoutSeconds: h.timeoutSeconds, passes: h.passes });

/** The API's issues at the form's fields; a variable's issue at its row, else at the list. */
export function placeAppIssues(issues: readonly FieldIssue[], draft: AppDraft): PlacedIssues {
  const envKeys = new Set(draft.env.map((r) => r.key.trim()).filter(Boolean));
  return placeIssues(issues, (issue): [string, string] | undefined => {
    const field = FIELD_OF_PATH[issue.path] ?? (issue.path === 'healthCheck' ? 'healthPath' : undefined);
    if (field) return [field, issue.message];
    if (issue.path === 'env') return ['env', issue.message];
    if (!issue.path.startsWith('env.')) return undefined;
    const key = issue.path.slice('env.'.length);
    return envKeys.has(key) ? [`env.${key}`, issue.message] : ['env', `${key}: ${issue.message}`];
  });
}
