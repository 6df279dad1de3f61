import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from './runs';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * A PostgreSQL cluster of the test's own (initdb into a temporary directory, a free port), so a
 * test can stop and start it without touching the shared server. It runs as the `postgres` user
 * (the server refuses root); `scripts/postgres.sh` puts initdb and postgres into `.tools/bin`.
 */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  url: string;
  port: number;
  /** Stops the server the hard way (SIGQUIT: an immediate shutdown, recovery on the next start). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its files. */
  remove(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = (program: string) => join(root, '.tools/bin', program);
  if (!existsSync(bin('initdb')) || !existsSync(bin('postgres'))) execFileSync('bash', [join(root, 'scripts/postgres.sh'), 'ensure'], { stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'keelson-pg-'));
  const { uid, gid } = postgresUser();
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  execFileSync('runuser', ['-u', 'postgres', '--', bin('initdb'), '-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let server: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function start() {
    // spawns: runuser, postgres
    server = spawn(
      'runuser',
      ['-u', 'postgres', '--', bin('postgres'), '-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let output = '';
    server.stderr!.on('data', (c: Buffer) => void (output.length < 20_000 && (output += c.toString())));
    exited = new Promise((resolve) => server!.once('exit', () => resolve()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const client = new pg.Client({ connectionString: url });
      try {
        await client.connect();
        await client.query('select 1');
        await client.end();
        return;
      } catch {
        await client.end().catch(() => undefined);
      }
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`private postgres did not start on ${port}:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function stop() {
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    // runuser does not pass SIGQUIT on: signal the postmaster itself (its pid heads postmaster.pid).
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGQUIT');
    await exited;
  }

  await start();
  return {
    url,
    port,
    start,
    stop,
    async remove() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The `postgres` account Debian's postgresql package creates. */
function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user: install Debian\'s postgresql (scripts/postgres.sh ensure)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
