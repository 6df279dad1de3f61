import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, open, readFile, writeFile } from 'node:fs/promises';
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
    filter: (source) => !/[/\\](\.terraform|\.git|\.keelson-output)([/\\]|$)/.test(source) && !/\.tfstate(\.backup)?$/.test(source),
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
  /** Called once tofu runs, with its pid and where its output goes (crash recovery records both). */
  onSpawn?: (pid: number, output: TofuOutputFiles) => void;
}

/** Where one tofu command writes its output (files, not pipes: see runTofu). */
export interface TofuOutputFiles {
  stdout: string;
  stderr: string;
}

/** Output files live beside the module's files, in a folder tofu does not read. */
const OUTPUT_DIR = '.keelson-output';
/** How often the output files are read while tofu runs. */
const FOLLOW_MS = 100;

/**
 * Follows a file that another process appends to: each read hands on whole lines only (so a
 * secret is never split across two chunks, which would defeat the mask), the rest at the end.
 */
async function followFile(path: string, emit: (text: string) => void) {
  const handle = await open(path, 'r');
  let offset = 0;
  let pending = Buffer.alloc(0);
  const buffer = Buffer.alloc(64 * 1024);
  async function read(final: boolean) {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      pending = Buffer.concat([pending, buffer.subarray(0, bytesRead)]);
    }
    // A newline byte never occurs inside a multi-byte UTF-8 character: cutting after one is safe.
    const cut = final ? pending.length : pending.lastIndexOf(0x0a) + 1;
    if (cut > 0) {
      emit(pending.subarray(0, cut).toString('utf8'));
      pending = pending.subarray(cut);
    }
  }
  return {
    read: () => read(false),
    async finish() {
      try {
        await read(true);
      } finally {
        await handle.close();
      }
    },
  };
}

/**
 * Runs one tofu command in the workspace. Output reaches `onOutput` as it comes, with secrets
 * masked; the result holds it too. A non-zero exit is a result, not an exception: `plan
 * -detailed-exitcode` answers 2 for "changes".
 *
 * tofu runs in its own process group and writes to files rather than pipes, so a worker that
 * dies does not take a half-done apply with it: no signal reaches tofu, and no write to a closed
 * pipe kills it (a Go program dies of SIGPIPE on a broken stdout). It finishes, writes its state
 * and releases its lock; the retried activity finds it by the pid and the files onSpawn reported.
 */
export async function runTofu(config: TofuConfig, workspace: TofuWorkspace, args: string[], options: RunTofuOptions = {}): Promise<TofuResult> {
  const dir = join(workspace.dir, OUTPUT_DIR);
  await mkdir(dir, { recursive: true });
  const name = `${Date.now()}-${randomBytes(3).toString('hex')}-${args[0]}`;
  const files: TofuOutputFiles = { stdout: join(dir, `${name}.stdout`), stderr: join(dir, `${name}.stderr`) };
  const [out, err] = await Promise.all([open(files.stdout, 'a'), open(files.stderr, 'a')]);
  let stdout = '';
  let stderr = '';
  const forward = (stream: 'stdout' | 'stderr') => (chunk: string) => {
    const text = redact(chunk, workspace.secrets);
    if (stream === 'stdout') stdout += text;
    else stderr += text;
    options.onOutput?.(stream, text);
  };
  const followers = await Promise.all([followFile(files.stdout, forward('stdout')), followFile(files.stderr, forward('stderr'))]);
  let code: number;
  try {
    code = await new Promise<number>((resolve, reject) => {
      // spawns: tofu
      const child = spawn(config.binary, [...args], {
        cwd: workspace.dir,
        env: tofuEnv(config, workspace),
        stdio: ['ignore', out.fd, err.fd],
        detached: true,
      });
      if (child.pid !== undefined) options.onSpawn?.(child.pid, files);
      let reading: Promise<void> = Promise.resolve();
      const follow = setInterval(() => {
        reading = reading.then(() => Promise.all(followers.map((f) => f.read()))).then(() => undefined);
      }, FOLLOW_MS);
      // Cancellation interrupts tofu the way Ctrl-C does: it stops after the operations in flight
      // and still writes state and releases the lock.
      const onAbort = () => child.kill('SIGINT');
      options.signal?.addEventListener('abort', onAbort);
      const done = () => {
        clearInterval(follow);
        options.signal?.removeEventListener('abort', onAbort);
        return reading;
      };
      child.once('error', (error) => void done().then(() => reject(error), reject));
      child.once('exit', (exitCode) => void done().then(() => resolve(exitCode ?? 1), reject));
    });
  } finally {
    await Promise.all([out.close(), err.close()]);
    await Promise.all(followers.map((f) => f.finish()));
  }
  return { code, stdout, stderr };
}

/**
 * Whether a process still runs. tofu outlives the worker that started it and is then reaped by
 * whoever adopts it, maybe never: a zombie has ended.
 */
export function processRunning(pid: number): boolean {
  if (existsSync('/proc/self/stat')) {
    try {
      // The state follows the command name in parentheses: Z (zombie) and X (dead) have ended.
      return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The whole output of an earlier command (one a dead worker started), secrets masked. */
export async function readTofuOutput(files: TofuOutputFiles, secrets: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  const read = (path: string) => readFile(path, 'utf8').then((text) => redact(text, secrets), () => '');
  const [stdout, stderr] = await Promise.all([read(files.stdout), read(files.stderr)]);
  return { stdout, stderr };
}

/** A plan or apply waits this long for the state lock (a drift check holding it briefly) before failing. */
const LOCK_TIMEOUT = '-lock-timeout=60s';

/** `tofu init`: the backend (the stack's schema, created when missing) and the providers. */
export const initArgs = () => ['init', '-input=false', '-no-color'];
/** `tofu plan` into a saved plan file; exit 0 = no changes, 2 = changes, 1 = error. */
export const planArgs = (planFile: string, destroy = false) => ['plan', '-input=false', '-no-color', '-detailed-exitcode', LOCK_TIMEOUT, `-out=${planFile}`, ...(destroy ? ['-destroy'] : [])];
/** `tofu apply` of exactly that saved plan (a stale one is refused by tofu itself). */
export const applyArgs = (planFile: string) => ['apply', '-input=false', '-no-color', '-auto-approve', LOCK_TIMEOUT, planFile];
export const showJsonArgs = (planFile: string) => ['show', '-json', '-no-color', planFile];
export const outputJsonArgs = () => ['output', '-json', '-no-color'];
