/**
 * The blueprint form's state and its two translations: a draft from a stored blueprint, and the
 * request body from a draft (with what could not be read). The API's 400 issues name fields by
 * the body's paths (`ports.0.host`, `env.TOKEN`); blank rows are left out of the body, so
 * `placeIssues` maps those paths back to the form's rows.
 *
 * Pure and free of Svelte and SvelteKit imports, so Node tests run it.
 */
import type { FieldIssue } from '../../api/request';
import type { Blueprint } from '../../api/types';
import type { BlueprintInput } from '../../services/blueprints-service';

export interface PortRow {
  container: string;
  host: string;
  protocol: 'tcp' | 'udp';
}

export interface VolumeRow {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface EnvRow {
  key: string;
  value: string;
  /** Stored on the server, value unknown here: it must be typed again to be kept. */
  sealed?: boolean;
}

export interface BlueprintDraft {
  name: string;
  description: string;
  image: string;
  /** Space-separated (with quotes) or a JSON array: see `parseCommand`. */
  command: string;
  ports: PortRow[];
  volumes: VolumeRow[];
  env: EnvRow[];
  cpuLimit: string;
  memoryLimitMb: string;
}

export const emptyPort = (): PortRow => ({ container: '', host: '', protocol: 'tcp' });
export const emptyVolume = (): VolumeRow => ({ source: '', target: '', readOnly: false });
export const emptyEnv = (): EnvRow => ({ key: '', value: '' });

/** A new blueprint's form: one empty port row and one empty variable row, ready to fill. */
export function emptyDraft(): BlueprintDraft {
  return { name: '', description: '', image: '', command: '', ports: [emptyPort()], volumes: [], env: [emptyEnv()], cpuLimit: '', memoryLimitMb: '' };
}

/** The form for a stored blueprint; its variables come back as names whose values must be typed again. */
export function draftFromBlueprint(b: Blueprint): BlueprintDraft {
  return {
    name: b.name,
    description: b.description,
    image: b.image,
    command: formatCommand(b.command),
    ports: b.ports.length ? b.ports.map((p) => ({ container: String(p.container), host: String(p.host), protocol: p.protocol })) : [emptyPort()],
    volumes: b.volumes.map((v) => ({ ...v })),
    env: b.envKeys.length ? b.envKeys.map((key) => ({ key, value: '', sealed: true })) : [emptyEnv()],
    cpuLimit: b.cpuLimit === null ? '' : String(b.cpuLimit),
    memoryLimitMb: b.memoryLimitMb === null ? '' : String(b.memoryLimitMb),
  };
}

/**
 * A command line as arguments: a JSON array of strings when it starts with `[`, else words
 * split on spaces, where "double quotes" (with \" and \\ inside) and 'single quotes' keep spaces.
 */
export function parseCommand(text: string): { args: string[] } | { error: string } {
  const trimmed = text.trim();
  if (!trimmed) return { args: [] };
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      return { error: `not a valid JSON array: ${(err as Error).message}` };
    }
    if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) return { error: 'a JSON array of strings, like ["nginx", "-g", "daemon off;"]' };
    return { args: parsed };
  }
  const args: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < trimmed.length; i++) {
    const ch = trimmed[i]!;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else current += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === '\\' && (trimmed[i + 1] === '"' || trimmed[i + 1] === '\\')) current += trimmed[++i];
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) args.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) return { error: `a ${quote === '"' ? 'double' : 'single'} quote is not closed` };
  if (inWord) args.push(current);
  return { args };
}

/** Arguments as the form shows them: plain words joined by spaces, else a JSON array. */
export function formatCommand(args: readonly string[]): string {
  if (args.every((a) => /^[^\s"'\\[]+$/.test(a))) return args.join(' ');
  return JSON.stringify(args);
}

export interface DraftRead {
  body: BlueprintInput;
  /** Messages by the form's paths (`ports.1.host` is the second row), for what could not be read. */
  errors: Record<string, string>;
  /** For each item of the body's arrays, the form row it came from (blank rows are left out). */
  rows: { ports: number[]; volumes: number[] };
}

/** The env row's path: `env.<NAME>` like the API's issues, or `env.<row>` while it has no name. */
export const envRowPath = (row: EnvRow, index: number) => (row.key.trim() ? `env.${row.key.trim()}` : `env.${index}`);

/**
 * The request body for a draft. Only reads what the form holds (numbers are numbers, the
 * command parses, stored variables were typed again); the API checks the rest.
 */
export function readDraft(d: BlueprintDraft): DraftRead {
  const errors: Record<string, string> = {};
  const rows: DraftRead['rows'] = { ports: [], volumes: [] };

  if (!d.name.trim()) errors.name = 'required';
  if (!d.image.trim()) errors.image = 'required';
  const command = parseCommand(d.command);
  if ('error' in command) errors.command = command.error;

  const ports: NonNullable<BlueprintInput['ports']> = [];
  d.ports.forEach((p, i) => {
    if (!p.container.trim() && !p.host.trim()) return;
    const container = readPort(p.container);
    const host = readPort(p.host);
    if (typeof container === 'string') errors[`ports.${i}.container`] = container;
    if (typeof host === 'string') errors[`ports.${i}.host`] = host;
    rows.ports.push(i);
    ports.push({ container: container as number, host: host as number, protocol: p.protocol });
  });

  const volumes: NonNullable<BlueprintInput['volumes']> = [];
  d.volumes.forEach((v, i) => {
    if (!v.source.trim() && !v.target.trim()) return;
    rows.volumes.push(i);
    volumes.push({ source: v.source.trim(), target: v.target.trim(), readOnly: v.readOnly });
  });

  const env: Record<string, string> = {};
  d.env.forEach((row, i) => {
    const key = row.key.trim();
    if (!key && !row.value) return;
    const path = envRowPath(row, i);
    if (!key) errors[path] = 'give this value a name';
    else if (key in env) errors[path] = `${key} appears twice`;
    else if (row.sealed && row.value === '') errors[path] = 'type the value again to keep it, or remove the variable';
    else env[key] = row.value;
  });

  const cpuLimit = readNumber(d.cpuLimit, false);
  if (typeof cpuLimit === 'string') errors.cpuLimit = cpuLimit;
  const memoryLimitMb = readNumber(d.memoryLimitMb, true);
  if (typeof memoryLimitMb === 'string') errors.memoryLimitMb = memoryLimitMb;

  return {
    body: {
      name: d.name.trim(),
      description: d.description,
      image: d.image.trim(),
      command: 'args' in command ? command.args : [],
      ports,
      volumes,
      env,
      cpuLimit: typeof cpuLimit === 'number' ? cpuLimit : null,
      memoryLimitMb: typeof memoryLimitMb === 'number' ? memoryLimitMb : null,
    },
    errors,
    rows,
  };
}

function readPort(text: string): number | string {
  const t = text.trim();
  if (!t) return 'required';
  const n = Number(t);
  return Number.isInteger(n) ? n : 'must be a whole number';
}

function readNumber(text: string, integer: boolean): number | null | string {
  const t = text.trim();
  if (!t) return null;
  const n = Number(t);
  if (!Number.isFinite(n)) return 'must be a number';
  if (integer && !Number.isInteger(n)) return 'must be a whole number';
  return n;
}

export interface PlacedIssues {
  /** Messages by the form's paths. */
  byPath: Record<string, string>;
  /** Issues the form has no place for. */
  rest: FieldIssue[];
}

/** The API's issues at the form's fields: array indices mapped back to rows, command items named. */
export function placeIssues(issues: readonly FieldIssue[], read: DraftRead, draft: BlueprintDraft): PlacedIssues {
  const byPath: Record<string, string[]> = {};
  const rest: FieldIssue[] = [];
  const envKeys = new Set(draft.env.map((r) => r.key.trim()).filter(Boolean));
  for (const issue of issues) {
    const [head, second, ...tail] = issue.path.split('.');
    let path: string | null = null;
    let message = issue.message;
    if (head === 'ports' || head === 'volumes') {
      if (second === undefined) path = head;
      else {
        const row = read.rows[head][Number(second)];
        if (row !== undefined) path = [head, row, ...tail].join('.');
      }
    } else if (head === 'command') {
      path = 'command';
      if (second !== undefined) message = `argument ${Number(second) + 1}: ${message}`;
    } else if (head === 'env') {
      const key = [second, ...tail].join('.');
      path = second === undefined ? 'env' : envKeys.has(key) ? `env.${key}` : 'env';
      if (second !== undefined && path === 'env') message = `${key}: ${message}`;
    } else if (head && ['name', 'description', 'image', 'cpuLimit', 'memoryLimitMb'].includes(head) && second === undefined) {
      path = head;
    }
    if (path === null) rest.push(issue);
    else (byPath[path] ??= []).push(message);
  }
  return { byPath: Object.fromEntries(Object.entries(byPath).map(([p, m]) => [p, m.join('; ')])), rest };
}
