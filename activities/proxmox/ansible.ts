import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import type { RunLog } from '../db/run-log';
import type { RunAnsibleInput, RunAnsibleResult } from './types';

/** How often a quiet playbook (a long apt install) still reports that it is alive. */
const heartbeatEveryMs = 5_000;

/** What the output said about the run, read line by line as it streams. */
class PlaybookOutput {
  currentTask = '';
  failedTask: string | undefined;
  failedMessage: string | undefined;
  unreachable = false;
  recap: RunAnsibleResult | undefined;
  private partial = '';

  feed(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  private line(line: string): void {
    const task = /^TASK \[(.+)\]/.exec(line);
    if (task) {
      // `TASK [base : Create the admin user]` → `base : Create the admin user`
      this.currentTask = task[1]!.trim();
      return;
    }
    if (/^(fatal|failed): \[/.test(line)) {
      this.failedTask ??= this.currentTask;
      this.failedMessage ??= messageOf(line);
      if (/UNREACHABLE!/.test(line)) this.unreachable = true;
      return;
    }
    const recap = /^\S+\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(line);
    if (recap) {
      this.recap = { ok: Number(recap[1]), changed: Number(recap[2]) };
      if (Number(recap[3]) > 0) this.unreachable = true;
    }
  }
}

/** The `msg` of `fatal: [h]: FAILED! => {"msg": "…"}`, else the line itself. */
function messageOf(line: string): string {
  const json = line.indexOf('=> {');
  if (json >= 0) {
    try {
      const parsed = JSON.parse(line.slice(json + 3)) as { msg?: unknown; stderr?: unknown };
      const msg = parsed.msg ?? parsed.stderr;
      if (typeof msg === 'string' && msg) return msg;
    } catch {
      // a multi-line result: the first line is what there is
    }
  }
  return line.trim();
}

/**
 * Runs `ansible-playbook` from `ansibleDir` against one host, streaming its output into the run's
 * log and heartbeating while it runs. Host keys are not checked: the guest was created moments
 * ago and its key is not known anywhere yet.
 */
export async function runPlaybook(runLog: RunLog, ansibleDir: string, input: RunAnsibleInput): Promise<RunAnsibleResult> {
  const playbook = normalize(input.playbook);
  if (isAbsolute(playbook) || playbook.startsWith('..')) {
    throw ApplicationFailure.nonRetryable(`playbook "${input.playbook}" must be a path inside infra/ansible`, 'AnsibleFailed');
  }
  const ctx = Context.current();
  const writer = runLog.forCurrentActivity(input.tenantId);
  const work = await mkdtemp(join(tmpdir(), 'keelson-ansible-'));
  try {
    const keyFile = join(work, 'id');
    const varsFile = join(work, 'vars.json');
    await writeFile(keyFile, input.privateKey.endsWith('\n') ? input.privateKey : `${input.privateKey}\n`, { mode: 0o600 });
    await writeFile(varsFile, JSON.stringify(input.extraVars ?? {}), { mode: 0o600 });
    await mkdir(join(work, 'cp'));
    await mkdir(join(work, 'tmp'));

    const args = [join(ansibleDir, playbook), '-i', `${input.host},`, '-u', input.user, '--private-key', keyFile, '-e', `@${varsFile}`];
    if (input.become ?? true) args.push('--become');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME ?? work,
      LANG: 'C.UTF-8',
      PYTHONUNBUFFERED: '1',
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_PYTHON_INTERPRETER: 'auto_silent',
      ANSIBLE_ROLES_PATH: join(ansibleDir, 'roles'),
      ANSIBLE_LOCAL_TEMP: join(work, 'tmp'),
      ANSIBLE_CONTROL_PATH_DIR: join(work, 'cp'),
      ANSIBLE_SSH_ARGS: '-o ControlMaster=auto -o ControlPersist=30s -o UserKnownHostsFile=/dev/null -o ServerAliveInterval=15 -o ConnectTimeout=15',
    };

    await writer.write('system', `$ ansible-playbook ${playbook} -i ${input.host}, -u ${input.user}\n`);
    const output = new PlaybookOutput();
    // Chunks are written one after another so the log keeps their order.
    let written: Promise<void> = Promise.resolve();
    const forward = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (stream === 'stdout') output.feed(text);
      written = written.then(() => writer.write(stream, text));
      heartbeat({ task: output.currentTask });
    };

    const child = spawn('ansible-playbook', args, { cwd: ansibleDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', forward('stdout'));
    child.stderr.on('data', forward('stderr'));
    const alive = setInterval(() => heartbeat({ task: output.currentTask }), heartbeatEveryMs);
    const onCancel = () => child.kill('SIGTERM');
    ctx.cancellationSignal.addEventListener('abort', onCancel);
    let code: number | null;
    try {
      code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (exit) => resolve(exit));
      });
    } finally {
      clearInterval(alive);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
    }
    output.end();
    await written;
    if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('cancelled');

    if (code === 0) return output.recap ?? { ok: 0, changed: 0 };
    await writer.write('system', `ansible-playbook exited with ${code}\n`);
    if (output.unreachable || code === 4) {
      throw ApplicationFailure.retryable(`Ansible could not reach ${input.host}: ${output.failedMessage ?? `exit ${code}`}`, 'AnsibleUnreachable');
    }
    const task = output.failedTask ? `task "${output.failedTask}" failed` : `ansible-playbook exited with ${code}`;
    throw ApplicationFailure.nonRetryable(`Ansible ${task}: ${output.failedMessage ?? 'see the run output'}`, 'AnsibleFailed', {
      task: output.failedTask,
      exitCode: code,
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
