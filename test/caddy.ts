import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './runs';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface TestCaddy {
  /** `http://127.0.0.1:<port>` of this instance's admin API. */
  adminUrl: string;
  /** A free port for the HTTP server the test configures (`127.0.0.1:<httpPort>`). */
  httpPort: number;
  /** This instance's directory of app upstreams (`CaddyProxy`'s `upstreamsDir`), removed with it. */
  upstreamsDir: string;
  stop(): Promise<void>;
}

/**
 * A private Caddy: its own admin port, its own storage and data directories, and no autosave
 * (`admin.config.persist: false`), so any number of instances run side by side without touching
 * each other or the machine's caddy. It starts with nothing but the admin API; tests configure
 * the rest through it.
 */
export async function startCaddy(): Promise<TestCaddy> {
  ensureCaddyReady();
  const dir = mkdtempSync(join(tmpdir(), 'keelson-caddy-'));
  const adminPort = await freePort();
  let httpPort = await freePort();
  while (httpPort === adminPort) httpPort = await freePort();
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const configFile = join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      admin: { listen: `127.0.0.1:${adminPort}`, config: { persist: false } },
      storage: { module: 'file_system', root: join(dir, 'storage') },
      logging: { logs: { default: { level: 'ERROR' } } },
    }),
  );

  // Caddy keeps an instance id and certificates under XDG_DATA_HOME and HOME: point them here.
  const child = spawn('caddy', ['run', '--config', configFile], {
    cwd: dir,
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Kept for the error message should it fail to start; later output is only discarded.
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    if (output.length < 20_000) output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    await terminate(child, exited);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitForAdmin(adminUrl, child);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${output.trim()}`);
  }
  return { adminUrl, httpPort, upstreamsDir: join(dir, 'upstreams'), stop };
}

let ensured = false;

/**
 * Runs `scripts/caddy.sh ensure` (once per process) when caddy is not on PATH or the kernel
 * setting it applies is off: without `net.ipv4.tcp_migrate_req` each config change resets a few
 * new connections, and the zero-downtime tests would rightly fail.
 */
function ensureCaddyReady() {
  if (ensured) return;
  const onPath = (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, 'caddy'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!onPath || listenerMigrationOff()) execFileSync('bash', [join(root, 'scripts/caddy.sh'), 'ensure'], { stdio: 'inherit' });
  ensured = true;
}

function listenerMigrationOff(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() !== '1';
  } catch {
    return false; // an older kernel: nothing the script could change
  }
}

async function waitForAdmin(adminUrl: string, child: ChildProcess) {
  const until = Date.now() + 15_000;
  let delay = 20;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`caddy exited (${child.exitCode ?? child.signalCode}) before its admin API answered`);
    try {
      const res = await fetch(`${adminUrl}/config/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 250);
  }
  throw new Error(`caddy's admin API did not answer at ${adminUrl} within 15s`);
}

async function terminate(child: ChildProcess, exited: Promise<void>) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * GET through a proxy on 127.0.0.1:`port` with `hostname` as the Host header (fetch cannot set
 * Host); a connection error answers status 0 with the error as the body.
 */
export function getThroughProxy(port: number, hostname: string, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host: hostname }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => resolve({ status: 0, body: String(err) }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ status: 0, body: String(err) }));
    req.end();
  });
}
