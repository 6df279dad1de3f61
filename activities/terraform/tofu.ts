import { spawn } from 'node:child_process';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** How Keelson runs OpenTofu; the same for every stack a worker serves. */
export interface TofuConfig {
  /** The `tofu` binary (scripts/tofu.sh builds it into .tools/bin). */
  binary: string;
  /** Postgres for the `pg` backend: state and its lock live there, one schema per stack. */
  backendUrl: string;
  /**
   * A CLI configuration file (`TF_CLI_CONFIG_FILE`): where providers come from — a mirror on an
   * offline machine, the tests' simulator provider. Unset: OpenTofu's defaults.
   */
  cliConfigFile?: string;
  /** Extra environment every command gets (provider credentials such as PROXMOX_VE_ENDPOINT). */
  env?: Record<string, string>;
}

/** One stack's working directory and inputs. */
export interface TofuWorkspace {
  dir: string;
  /** The stack's schema in `backendUrl`. */
  schema: string;
  /** Input variables; passed as TF_VAR_* in the environment, never on a command line. */
  variables: Record<string, string>;
  /** Values that must not appear in anything Keelson shows (sealed variables). */
  secrets: string[];
}

export interface TofuResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type OutputListener = (stream: 'stdout' | 'stderr', text: string) => void;

export const BACKEND_OVERRIDE_FILE = 'zz_keelson_backend_override.tf';

/**
 * Copies a module into a fresh working directory and pins its backend to `pg`: an override file
 * replaces whatever backend the module declares (or adds one), so state always lands in the
 * stack's schema.
 */
export async function prepareWorkspace(moduleDir: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await cp(moduleDir, dir, {
    recursive: true,
    filter: (source) => !/[/\\](\.terraform|\.git)([/\\]|$)/.test(source) && !/\.tfstate(\.backup)?$/.test(source),
  });
  await writeFile(join(dir, BACKEND_OVERRIDE_FILE), '# Written by Keelson: state lives in Postgres, one schema per stack.\nterraform {\n  backend "pg" {}\n}\n');
}

/** Replaces every secret value in `text` with OpenTofu's own mask. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 3) out = out.split(secret).join('(sensitive value)');
  }
  return out;
}

/** The environment of a tofu command: nothing of the worker's own beyond PATH and HOME. */
export function tofuEnv(config: TofuConfig, workspace: TofuWorkspace): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? workspace.dir,
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    PG_CONN_STR: config.backendUrl,
    PG_SCHEMA_NAME: workspace.schema,
  };
  // Where the machine keeps its CA bundle, unless the configuration says otherwise.
  for (const name of ['SSL_CERT_FILE', 'SSL_CERT_DIR']) if (process.env[name]) env[name] = process.env[name];
  Object.assign(env, config.env);
  if (config.cliConfigFile) env.TF_CLI_CONFIG_FILE = config.cliConfigFile;
  for (const [name, value] of Object.entries(workspace.variables)) env[`TF_VAR_${name}`] = value;
  return env;
}

export interface RunTofuOptions {
  onOutput?: OutputListener;
  signal?: AbortSignal;
  /** Called with the child's pid once it runs (crash recovery records it). */
  onSpawn?: (pid: number) => void;
}

/**
 * Runs one tofu command in the workspace. Output reaches `onOutput` as it comes, with secrets
 * masked; the result holds it too. A non-zero exit is a result, not an exception: `plan
 * -detailed-exitcode` answers 2 for "changes".
 *
 * The child runs in its own process group, so a worker that dies does not take a half-done
 * apply with it: tofu finishes, writes its state and releases its lock (see recoverLock).
 */
export function runTofu(config: TofuConfig, workspace: TofuWorkspace, args: string[], options: RunTofuOptions = {}): Promise<TofuResult> {
  return new Promise((resolve, reject) => {
    // spawns: tofu
    const child = spawn(config.binary, [...args], {
      cwd: workspace.dir,
      env: tofuEnv(config, workspace),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    const forward = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = redact(chunk.toString('utf8'), workspace.secrets);
      if (stream === 'stdout') stdout += text;
      else stderr += text;
      options.onOutput?.(stream, text);
    };
    child.stdout.on('data', forward('stdout'));
    child.stderr.on('data', forward('stderr'));
    // Cancellation interrupts tofu the way Ctrl-C does: it stops after the operations in flight
    // and still writes state and releases the lock.
    const onAbort = () => child.kill('SIGINT');
    options.signal?.addEventListener('abort', onAbort);
    child.once('error', (error) => {
      options.signal?.removeEventListener('abort', onAbort);
      reject(error);
    });
    child.once('close', (code) => {
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** `tofu init`: the backend (the stack's schema, created when missing) and the providers. */
export const initArgs = () => ['init', '-input=false', '-no-color'];
/** `tofu plan` into a saved plan file; exit 0 = no changes, 2 = changes, 1 = error. */
export const planArgs = (planFile: string, destroy = false) => ['plan', '-input=false', '-no-color', '-detailed-exitcode', `-out=${planFile}`, ...(destroy ? ['-destroy'] : [])];
/** `tofu apply` of exactly that saved plan (a stale one is refused by tofu itself). */
export const applyArgs = (planFile: string) => ['apply', '-input=false', '-no-color', '-auto-approve', planFile];
export const showJsonArgs = (planFile: string) => ['show', '-json', '-no-color', planFile];
export const outputJsonArgs = () => ['output', '-json', '-no-color'];
