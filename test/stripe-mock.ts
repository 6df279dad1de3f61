import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './runs';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * A private stripe-mock whose PaymentIntents are settled. stripe-mock keeps no state: it answers
 * every request from its fixtures with the request's id (and a create's parameters) reflected,
 * so with its bundled fixtures a PaymentIntent read back is always `requires_payment_method`.
 * This one runs the same binary with those fixtures changed in one place — the PaymentIntent is
 * `succeeded` for `amountMinor` in `currency` — the state a real Stripe account would report
 * after the customer's card was charged. Everything else (ids, validation of every parameter
 * against Stripe's OpenAPI spec, customers, SetupIntents, payment methods) is stripe-mock's own.
 * It listens on `options.port` (a bench gives its own), or on a free port.
 */
export async function startSettledStripeMock(settled: { amountMinor: number; currency: string }, options: { port?: number } = {}): Promise<{ url: string; close(): Promise<void> }> {
  const bundled = execFileSync('bash', [join(root, 'scripts/stripe-mock.sh'), 'fixtures'], { encoding: 'utf8' }).trim();
  const fixtures = JSON.parse(readFileSync(bundled, 'utf8')) as { resources: Record<string, Record<string, unknown>> };
  const pi = fixtures.resources.payment_intent!;
  Object.assign(pi, {
    status: 'succeeded',
    amount: settled.amountMinor,
    amount_received: settled.amountMinor,
    amount_capturable: 0,
    currency: settled.currency.toLowerCase(),
    last_payment_error: null,
    next_action: null,
    canceled_at: null,
    latest_charge: 'ch_settled',
  });
  const dir = mkdtempSync(join(tmpdir(), 'keelson-stripe-mock-'));
  const file = join(dir, 'fixtures.json');
  writeFileSync(file, JSON.stringify(fixtures));
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn('bash', [join(root, 'scripts/stripe-mock.sh'), 'run', '--port', String(port), '--fixtures', file], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()).slice(-4000));
  const until = Date.now() + 30_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`stripe-mock did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      if (child.pid && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-child.pid, 'SIGTERM');
        await exited;
      }
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
