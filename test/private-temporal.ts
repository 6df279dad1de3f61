import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './runs';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * A Temporal dev server of the test's own (scripts/temporal.sh, a free port, its history in a
 * SQLite file of its own), so a test can restart it; the history survives the restart.
 */
export interface PrivateTemporal {
  address: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its history. */
  remove(): Promise<void>;
}

export async function startPrivateTemporal(): Promise<PrivateTemporal> {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-temporal-'));
  const port = await freePort();
  let server: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function start() {
    // temporal.sh execs the server, so this child is the server itself.
    server = spawn('bash', [join(root, 'scripts/temporal.sh'), 'run', '--port', String(port), '--headless', '--db', join(dir, 'temporal.db')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let output = '';
    server.stderr!.on('data', (c: Buffer) => void (output.length < 20_000 && (output += c.toString())));
    exited = new Promise((resolve) => server!.once('exit', () => resolve()));
    const deadline = Date.now() + 120_000;
    while (!(await listening(port))) {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`private Temporal did not start on ${port}:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function stop() {
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    server.kill('SIGTERM');
    const timer = setTimeout(() => server?.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  await start();
  return {
    address: `127.0.0.1:${port}`,
    start,
    stop,
    async remove() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
