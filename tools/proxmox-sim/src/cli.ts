#!/usr/bin/env -S npx tsx
/**
 * Runs the simulator as a process:
 *   tsx tools/proxmox-sim/src/cli.ts --port 8006 --state-dir .data/proxmox-sim --time-scale 1 --guests memory
 * Prints one JSON line with the URL, the CA path, the certificate fingerprint and the control
 * token, then serves until SIGINT/SIGTERM.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { GuestBackend } from './guests/types';
import { startProxmoxSim, type ProxmoxSimOptions } from './index';

const USAGE = `usage: cli.ts --state-dir DIR [--port 8006] [--host 127.0.0.1] [--time-scale 1]
              [--guests memory|docker] [--control-token TOKEN]
              [--user user@realm:password]... [--token user@realm!name=uuid]...
              [--auth-failure-delay-ms MS]
              [--docker-network keelson-pve] [--docker-subnet 10.77.0.0/24] [--docker-namespace sim]`;

function fail(message: string): never {
  process.stderr.write(`proxmox-sim: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function number(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) fail(`--${name} must be a non-negative number, got '${value}'`);
  return parsed;
}

async function dockerBackend(values: Record<string, string | undefined>): Promise<GuestBackend> {
  const modulePath = join(fileURLToPath(new URL('.', import.meta.url)), 'guests', 'docker.ts');
  if (!existsSync(modulePath)) fail('--guests docker needs src/guests/docker.ts (the Docker guest backend), which is not there');
  const module = (await import(modulePath)) as { DockerGuests?: new (options: Record<string, unknown>) => GuestBackend };
  if (!module.DockerGuests) fail('src/guests/docker.ts does not export DockerGuests');
  const { default: Docker } = await import('dockerode');
  return new module.DockerGuests({
    docker: new Docker(),
    namespace: values['docker-namespace'] ?? 'sim',
    network: values['docker-network'] ?? 'keelson-pve',
    subnet: values['docker-subnet'] ?? '10.77.0.0/24',
  });
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'state-dir': { type: 'string' },
        'time-scale': { type: 'string' },
        guests: { type: 'string' },
        'control-token': { type: 'string' },
        user: { type: 'string', multiple: true },
        token: { type: 'string', multiple: true },
        'auth-failure-delay-ms': { type: 'string' },
        'docker-network': { type: 'string' },
        'docker-subnet': { type: 'string' },
        'docker-namespace': { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const stateDir = values['state-dir'] ?? fail('--state-dir is required');
  const guestsKind = values.guests ?? 'memory';
  if (guestsKind !== 'memory' && guestsKind !== 'docker') fail(`--guests must be memory or docker, got '${guestsKind}'`);

  const users = (values.user ?? []).map((entry) => {
    const colon = entry.indexOf(':');
    if (colon < 1) fail(`--user must be user@realm:password, got '${entry}'`);
    return { userid: entry.slice(0, colon), password: entry.slice(colon + 1) };
  });
  const tokens = (values.token ?? []).map((entry) => {
    const [tokenid, secret] = entry.split('=');
    if (!tokenid?.includes('!')) fail(`--token must be user@realm!name[=uuid], got '${entry}'`);
    return { tokenid, ...(secret ? { secret } : {}) };
  });
  const guests = guestsKind === 'docker' ? await dockerBackend(values as Record<string, string | undefined>) : undefined;

  const options: ProxmoxSimOptions = {
    stateDir,
    port: number('port', values.port, 8006),
    host: values.host ?? '127.0.0.1',
    timeScale: number('time-scale', values['time-scale'], 1),
    ...(users.length > 0 ? { users } : {}),
    tokens,
    ...(values['control-token'] ? { controlToken: values['control-token'] } : {}),
    ...(guests ? { guests } : {}),
    ...(values['auth-failure-delay-ms'] !== undefined ? { authFailureDelayMs: number('auth-failure-delay-ms', values['auth-failure-delay-ms'], 0) } : {}),
  };
  const sim = await startProxmoxSim(options);
  process.stdout.write(
    `${JSON.stringify({ url: sim.url, api: `${sim.url}/api2/json`, caFile: join(stateDir, 'tls', 'pve-root-ca.pem'), fingerprint: sim.fingerprint, controlToken: sim.controlToken, tokens: sim.tokens, guests: guestsKind })}\n`,
  );

  const stop = async () => {
    await sim.close();
    await guests?.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`proxmox-sim: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
