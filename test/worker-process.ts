import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { TEST_KEY_SPEC, type TestPlatform } from './platform';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Worker processes (workers/src/main.ts) for a test platform, started for real so a test can
 * SIGKILL one mid-operation. Each serves the platform's core queue and the given nodes' queues.
 */
export function workerProcesses(p: () => TestPlatform) {
  const children = new Set<ChildProcess>();

  async function start(env: Record<string, string>): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/src/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: p().dbUrl,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        KEELSON_ENCRYPTION_KEYS: TEST_KEY_SPEC,
        KEELSON_CORE_TASK_QUEUE: p().coreTaskQueue,
        // Tests that want monitoring's schedules make their own, with their own intervals.
        KEELSON_MONITORING_SCHEDULES: 'false',
        // The run's bundle: a restarted worker polls again in seconds instead of bundling anew.
        KEELSON_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    child.on('exit', () => children.delete(child));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('workers running')) resolve();
      });
      child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      child.once('exit', (code) => reject(new Error(`worker exited (${code}) before running:\n${output}`)));
    });
    return child;
  }

  function kill(child: ChildProcess): Promise<void> {
    return new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  return { start, kill, killAll: () => Promise.all([...children].map(kill)) };
}

/** Polls `check` until it returns something truthy. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
